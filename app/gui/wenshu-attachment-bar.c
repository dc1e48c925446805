/* wenshu-attachment-bar.c: a prompt's attachments as a row of chips (see
 * wenshu-attachment-bar.h).
 *
 * The template (ui/wenshu-attachment-bar.ui) holds a sideways-scrolling
 * box of chips and the add button. Every file goes through add_file: a
 * spinner chip stands in while wenshu_attachment_load_async reads it on a
 * worker thread; then the spinner goes and either a chip joins (after the
 * chips already loaded, so the chips keep the order of the items) or
 * "refused" is emitted. Each load has a struct pending_load that its
 * callback owns; the bar borrows it to cancel it, and on dispose or clear
 * it detaches the load (pending->bar = NULL) so that the callback only
 * frees it. Pasted images are written as PNGs into the user's data folder
 * ($XDG_DATA_HOME/wenshu/pasted): a sent message refers to its files by
 * path, so a pasted image must outlive the bar for the history to resend it.
 */
#include "wenshu-attachment-bar.h"

#include <errno.h>
#include <glib/gi18n.h>


#define WENSHU_ATTACHMENT_BAR_UI "/org/wenshu/Wenshu/ui/wenshu-attachment-bar.ui"
#define CHIP_THUMB_SIZE 48 /* the thumbnail's square in a chip, pixels */
#define KEYFRAME_W 40      /* a video chip's keyframe strip, each frame's box */
#define KEYFRAME_H 30
#define CHIP_DATA_KEY "wenshu-attachment" /* a chip's attachment (borrowed from the store) */

struct _WenshuAttachmentBar {
    GtkWidget parent_instance;

    /* template children */
    GtkScrolledWindow *scroller;
    GtkBox *chips_box;
    GtkButton *add_button;

    GListStore *items;  /* of WenshuAttachment, in the chips' order */
    GPtrArray *pending; /* [n] struct pending_load *, borrowed: each load's callback owns its own */
    gboolean accept_media;
    char *media_reason; /* why media are refused while !accept_media */
    char *paste_dir;    /* the pasted images' folder, or NULL before the first paste */
    int n_pasted;
    guint n_added;      /* files added so far: the next load's order */
    GtkFileChooserNative *chooser; /* open while the user picks files, else NULL */
    gboolean disposed;
};

G_DEFINE_FINAL_TYPE(WenshuAttachmentBar, wenshu_attachment_bar, GTK_TYPE_WIDGET)

enum { SIGNAL_CHANGED, SIGNAL_REFUSED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* One file loading. Owned by on_load_done; bar is NULL once detached. */
struct pending_load {
    WenshuAttachmentBar *bar;
    GCancellable *cancellable;
    guint order;             /* when it was added: attachments keep this order */
    GtkWidget *spinner_chip; /* in bar->chips_box while attached */
};

static void refuse(WenshuAttachmentBar *self, const char *reason)
{
    g_signal_emit(self, signals[SIGNAL_REFUSED], 0, reason);
}

/* ---- chips ----------------------------------------------------------------------------- */

static GtkWidget *chip_box_new(void)
{
    GtkWidget *chip = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_add_css_class(chip, "card");
    gtk_widget_set_margin_top(chip, 3);
    gtk_widget_set_margin_bottom(chip, 3);
    return chip;
}

static GtkWidget *label_new(const char *text, gboolean dim)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_MIDDLE);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 22);
    if (dim) {
        gtk_widget_add_css_class(label, "dim-label");
        gtk_widget_add_css_class(label, "caption");
    }
    return label;
}

static GtkWidget *picture_new(GdkTexture *texture, int width, int height)
{
    GtkWidget *picture = gtk_picture_new_for_paintable(GDK_PAINTABLE(texture));
    gtk_picture_set_can_shrink(GTK_PICTURE(picture), TRUE);
    gtk_picture_set_content_fit(GTK_PICTURE(picture), GTK_CONTENT_FIT_CONTAIN);
    gtk_widget_set_size_request(picture, width, height);
    gtk_widget_set_valign(picture, GTK_ALIGN_CENTER);
    return picture;
}

static const char *kind_icon_name(WenshuAttachmentKind kind)
{
    switch (kind) {
    case WENSHU_ATTACHMENT_TEXT:
        return "text-x-generic";
    case WENSHU_ATTACHMENT_DOCUMENT:
        return "x-office-document";
    case WENSHU_ATTACHMENT_IMAGE:
        return "image-x-generic";
    case WENSHU_ATTACHMENT_VIDEO:
        return "video-x-generic";
    }
    return "text-x-generic";
}

/* A video chip's strip: its keyframes small, each with its time as tooltip. */
static GtkWidget *keyframe_strip_new(WenshuAttachment *attachment)
{
    GtkWidget *strip = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 2);
    gtk_widget_set_name(strip, "keyframes");
    int n = wenshu_attachment_get_n_keyframes(attachment);
    for (int i = 0; i < n; i++) {
        double time = 0;
        GdkTexture *frame = wenshu_attachment_get_keyframe(attachment, i, &time);
        GtkWidget *picture = picture_new(frame, KEYFRAME_W, KEYFRAME_H);
        int minutes = (int)(time / 60);
        char *tip = g_strdup_printf("%d:%04.1f", minutes, time - 60.0 * minutes);
        gtk_widget_set_tooltip_text(picture, tip);
        g_free(tip);
        gtk_box_append(GTK_BOX(strip), picture);
    }
    return strip;
}

static void on_remove_clicked(GtkButton *button, WenshuAttachmentBar *self);

/* The chip of a loaded attachment: picture or icon, name, summary, (video)
 * keyframes, remove button. */
static GtkWidget *chip_new(WenshuAttachmentBar *self, WenshuAttachment *attachment)
{
    GtkWidget *chip = chip_box_new();
    gtk_widget_set_name(chip, "attachment-chip");
    const char *name = wenshu_attachment_get_name(attachment);
    gtk_widget_set_tooltip_text(chip, name);
    g_object_set_data(G_OBJECT(chip), CHIP_DATA_KEY, attachment);

    /* a GtkImage scales the thumbnail into its pixel size, aspect kept (a
     * GtkPicture would ask for the texture's own width) */
    GdkTexture *thumbnail = wenshu_attachment_get_thumbnail(attachment);
    GtkWidget *figure;
    if (thumbnail) {
        figure = gtk_image_new_from_paintable(GDK_PAINTABLE(thumbnail));
        gtk_widget_set_name(figure, "thumbnail");
        gtk_image_set_pixel_size(GTK_IMAGE(figure), CHIP_THUMB_SIZE);
    } else {
        figure =
            gtk_image_new_from_icon_name(kind_icon_name(wenshu_attachment_get_kind(attachment)));
        gtk_image_set_pixel_size(GTK_IMAGE(figure), 32);
    }
    gtk_widget_set_margin_start(figure, 6);
    gtk_widget_set_margin_top(figure, 6);
    gtk_widget_set_margin_bottom(figure, 6);
    gtk_box_append(GTK_BOX(chip), figure);

    GtkWidget *lines = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_valign(lines, GTK_ALIGN_CENTER);
    gtk_box_append(GTK_BOX(lines), label_new(name, FALSE));
    gtk_box_append(GTK_BOX(lines), label_new(wenshu_attachment_get_summary(attachment), TRUE));
    if (wenshu_attachment_get_kind(attachment) == WENSHU_ATTACHMENT_VIDEO)
        gtk_box_append(GTK_BOX(lines), keyframe_strip_new(attachment));
    gtk_box_append(GTK_BOX(chip), lines);

    GtkWidget *remove = gtk_button_new_from_icon_name("window-close-symbolic");
    gtk_widget_set_name(remove, "remove-attachment");
    gtk_widget_add_css_class(remove, "flat");
    gtk_widget_add_css_class(remove, "circular");
    gtk_widget_set_valign(remove, GTK_ALIGN_CENTER);
    gtk_widget_set_margin_end(remove, 3);
    char *label = g_strdup_printf(_("Remove %s"), name);
    gtk_accessible_update_property(GTK_ACCESSIBLE(remove), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                   -1);
    gtk_widget_set_tooltip_text(remove, label);
    g_free(label);
    g_object_set_data(G_OBJECT(remove), CHIP_DATA_KEY, attachment);
    g_signal_connect(remove, "clicked", G_CALLBACK(on_remove_clicked), self);
    gtk_box_append(GTK_BOX(chip), remove);
    return chip;
}

/* The chip showing attachment, or NULL. */
static GtkWidget *find_chip(WenshuAttachmentBar *self, WenshuAttachment *attachment)
{
    for (GtkWidget *c = gtk_widget_get_first_child(GTK_WIDGET(self->chips_box)); c;
         c = gtk_widget_get_next_sibling(c))
        if (g_object_get_data(G_OBJECT(c), CHIP_DATA_KEY) == attachment)
            return c;
    return NULL;
}

#define ORDER_DATA_KEY "wenshu-attachment-order" /* on an attachment: its load's order */

static guint attachment_order(gpointer attachment)
{
    return GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(attachment), ORDER_DATA_KEY));
}

/* Insert a loaded attachment among the others in the order the files were
 * added (loads finish in any order); its chip goes after the chip of the
 * attachment before it (spinner chips stay after the loaded ones). */
static void insert_attachment(WenshuAttachmentBar *self, WenshuAttachment *attachment,
                              guint order)
{
    g_object_set_data(G_OBJECT(attachment), ORDER_DATA_KEY, GUINT_TO_POINTER(order));
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->items));
    guint position = 0;
    while (position < n) {
        g_autoptr(GObject) other = g_list_model_get_item(G_LIST_MODEL(self->items), position);
        if (attachment_order(other) > order)
            break;
        position++;
    }
    GtkWidget *after = NULL;
    if (position > 0) {
        g_autoptr(WenshuAttachment) before =
            g_list_model_get_item(G_LIST_MODEL(self->items), position - 1);
        after = find_chip(self, before);
    }
    g_list_store_insert(self->items, position, attachment);
    gtk_box_insert_child_after(self->chips_box, chip_new(self, attachment), after);
}

/* Drop attachment and its chip. Returns whether it was there. */
static gboolean remove_attachment(WenshuAttachmentBar *self, WenshuAttachment *attachment)
{
    guint position = 0;
    if (!g_list_store_find(self->items, attachment, &position))
        return FALSE;
    GtkWidget *chip = find_chip(self, attachment);
    if (chip)
        gtk_box_remove(self->chips_box, chip);
    g_list_store_remove(self->items, position); /* after the chip: it borrows the attachment */
    return TRUE;
}

static void on_remove_clicked(GtkButton *button, WenshuAttachmentBar *self)
{
    WenshuAttachment *attachment = g_object_get_data(G_OBJECT(button), CHIP_DATA_KEY);
    if (remove_attachment(self, attachment))
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

/* ---- loading ------------------------------------------------------------------------- */

static GtkWidget *spinner_chip_new(GFile *file)
{
    GtkWidget *chip = chip_box_new();
    gtk_widget_set_name(chip, "attachment-loading");
    GtkWidget *spinner = gtk_spinner_new();
    gtk_spinner_start(GTK_SPINNER(spinner));
    gtk_widget_set_margin_start(spinner, 6);
    gtk_box_append(GTK_BOX(chip), spinner);
    char *base = g_file_get_basename(file);
    char *name = base ? g_filename_display_name(base) : g_strdup("…");
    GtkWidget *label = label_new(name, TRUE);
    gtk_widget_set_margin_end(label, 6);
    gtk_box_append(GTK_BOX(chip), label);
    g_free(name);
    g_free(base);
    return chip;
}

/* Stop tracking a load: its spinner goes; its callback will only free it. */
static void detach_pending(WenshuAttachmentBar *self, struct pending_load *pending)
{
    if (pending->spinner_chip && !self->disposed)
        gtk_box_remove(self->chips_box, pending->spinner_chip);
    pending->spinner_chip = NULL;
    pending->bar = NULL;
    g_ptr_array_remove(self->pending, pending);
}

static void pending_free(struct pending_load *pending)
{
    g_object_unref(pending->cancellable);
    g_free(pending);
}

/* The reason a media attachment is refused while media are not accepted. */
static char *media_refusal(WenshuAttachmentBar *self, WenshuAttachment *attachment)
{
    return g_strdup_printf("%s: %s", wenshu_attachment_get_name(attachment),
                           self->media_reason ? self->media_reason
                                              : _("this model cannot read images or videos"));
}

static void on_load_done(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source;
    struct pending_load *pending = data;
    GError *error = NULL;
    WenshuAttachment *attachment = wenshu_attachment_load_finish(result, &error);
    WenshuAttachmentBar *self = pending->bar;
    if (!self) { /* cleared or disposed meanwhile */
        g_clear_object(&attachment);
        g_clear_error(&error);
        pending_free(pending);
        return;
    }
    guint order = pending->order;
    detach_pending(self, pending);
    pending_free(pending);
    if (!attachment) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            refuse(self, error->message);
        g_error_free(error);
        return;
    }
    if (wenshu_attachment_is_media(attachment) && !self->accept_media) {
        char *reason = media_refusal(self, attachment);
        refuse(self, reason);
        g_free(reason);
    } else {
        insert_attachment(self, attachment, order);
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
    }
    g_object_unref(attachment);
}

/* ---- the file chooser ---------------------------------------------------------------------- */

static void add_files_in(WenshuAttachmentBar *self, GListModel *files)
{
    guint n = g_list_model_get_n_items(files);
    for (guint i = 0; i < n; i++) {
        GFile *file = g_list_model_get_item(files, i);
        wenshu_attachment_bar_add_file(self, file);
        g_object_unref(file);
    }
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, WenshuAttachmentBar *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        GListModel *files = gtk_file_chooser_get_files(GTK_FILE_CHOOSER(dialog));
        add_files_in(self, files);
        g_object_unref(files);
    }
    gtk_native_dialog_destroy(dialog);
    g_clear_object(&self->chooser);
}

static void add_filter(GtkFileChooser *chooser, const char *name, const char *const *mime_types,
                       const char *const *patterns)
{
    GtkFileFilter *filter = gtk_file_filter_new();
    gtk_file_filter_set_name(filter, name);
    for (int i = 0; mime_types && mime_types[i]; i++)
        gtk_file_filter_add_mime_type(filter, mime_types[i]);
    for (int i = 0; patterns && patterns[i]; i++)
        gtk_file_filter_add_pattern(filter, patterns[i]);
    gtk_file_chooser_add_filter(chooser, filter);
    g_object_unref(filter);
}

static void on_add_button_clicked(WenshuAttachmentBar *self)
{
    if (self->chooser)
        return;
    static const char *const supported[] = {
        "text/*",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/*",
        "video/*",
        NULL};
    static const char *const documents[] = {
        "text/*", "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", NULL};
    static const char *const images[] = {"image/*", NULL};
    static const char *const videos[] = {"video/*", NULL};
    static const char *const everything[] = {"*", NULL};
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
    self->chooser = gtk_file_chooser_native_new(_("Attach files"),
                                                GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                                GTK_FILE_CHOOSER_ACTION_OPEN, _("_Attach"), NULL);
    GtkFileChooser *chooser = GTK_FILE_CHOOSER(self->chooser);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->chooser), TRUE);
    gtk_file_chooser_set_select_multiple(chooser, TRUE);
    add_filter(chooser, _("Supported files"), supported, NULL);
    add_filter(chooser, _("Text and documents"), documents, NULL);
    add_filter(chooser, _("Images"), images, NULL);
    add_filter(chooser, _("Videos"), videos, NULL);
    add_filter(chooser, _("All files"), NULL, everything);
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

/* ---- drop and paste ---------------------------------------------------------------------- */

static gboolean on_drop(GtkDropTarget *target, const GValue *value, double x, double y,
                        WenshuAttachmentBar *self)
{
    (void)target;
    (void)x;
    (void)y;
    if (self->disposed)
        return FALSE;
    if (G_VALUE_HOLDS(value, GDK_TYPE_FILE_LIST)) {
        GSList *files = gdk_file_list_get_files(g_value_get_boxed(value)); /* container only */
        gboolean any = files != NULL;
        for (GSList *l = files; l; l = l->next)
            wenshu_attachment_bar_add_file(self, l->data);
        g_slist_free(files);
        return any;
    }
    if (G_VALUE_HOLDS(value, G_TYPE_FILE)) {
        wenshu_attachment_bar_add_file(self, g_value_get_object(value));
        return TRUE;
    }
    return FALSE;
}

static void on_paste_files(GObject *source, GAsyncResult *result, gpointer data)
{
    WenshuAttachmentBar *self = data; /* a reference the paste took */
    GError *error = NULL;
    const GValue *value = gdk_clipboard_read_value_finish(GDK_CLIPBOARD(source), result, &error);
    if (!self->disposed) {
        if (value && G_VALUE_HOLDS(value, GDK_TYPE_FILE_LIST)) {
            GSList *files = gdk_file_list_get_files(g_value_get_boxed(value));
            for (GSList *l = files; l; l = l->next)
                wenshu_attachment_bar_add_file(self, l->data);
            g_slist_free(files);
        } else if (value && G_VALUE_HOLDS(value, G_TYPE_FILE)) {
            wenshu_attachment_bar_add_file(self, g_value_get_object(value));
        } else if (error) {
            char *reason = g_strdup_printf(_("Pasted files: %s"), error->message);
            refuse(self, reason);
            g_free(reason);
        }
    }
    g_clear_error(&error);
    g_object_unref(self);
}

/* Write a pasted image as a PNG in the pasted images' folder and attach it. */
static void attach_texture(WenshuAttachmentBar *self, GdkTexture *texture)
{
    if (!self->paste_dir) {
        char *dir = g_build_filename(g_get_user_data_dir(), "wenshu", "pasted", NULL);
        if (g_mkdir_with_parents(dir, 0700) != 0) {
            char *reason = g_strdup_printf(_("Pasted image: cannot make the folder %s: %s"), dir,
                                           g_strerror(errno));
            refuse(self, reason);
            g_free(reason);
            g_free(dir);
            return;
        }
        self->paste_dir = dir;
    }
    self->n_pasted++;
    /* unique across bars and runs: the time to the microsecond, then a count */
    char *name = g_strdup_printf("pasted-%" G_GINT64_FORMAT "-%d.png", g_get_real_time(),
                                 self->n_pasted);
    char *path = g_build_filename(self->paste_dir, name, NULL);
    if (gdk_texture_save_to_png(texture, path)) {
        GFile *file = g_file_new_for_path(path);
        wenshu_attachment_bar_add_file(self, file);
        g_object_unref(file);
    } else {
        char *reason = g_strdup_printf(_("%s: cannot write the pasted image"), name);
        refuse(self, reason);
        g_free(reason);
    }
    g_free(path);
    g_free(name);
}

static void on_paste_texture(GObject *source, GAsyncResult *result, gpointer data)
{
    WenshuAttachmentBar *self = data; /* a reference the paste took */
    GError *error = NULL;
    GdkTexture *texture = gdk_clipboard_read_texture_finish(GDK_CLIPBOARD(source), result, &error);
    if (!self->disposed) {
        if (texture) {
            attach_texture(self, texture);
        } else {
            char *reason =
                g_strdup_printf(_("Pasted image: %s"), error ? error->message : _("no image"));
            refuse(self, reason);
            g_free(reason);
        }
    }
    g_clear_object(&texture);
    g_clear_error(&error);
    g_object_unref(self);
}

/* ---- public -------------------------------------------------------------------------- */

GtkWidget *wenshu_attachment_bar_new(void)
{
    return g_object_new(WENSHU_TYPE_ATTACHMENT_BAR, NULL);
}

void wenshu_attachment_bar_add_file(WenshuAttachmentBar *self, GFile *file)
{
    g_return_if_fail(WENSHU_IS_ATTACHMENT_BAR(self) && G_IS_FILE(file));
    if (self->disposed)
        return;
    struct pending_load *pending = g_new0(struct pending_load, 1);
    pending->bar = self;
    pending->cancellable = g_cancellable_new();
    pending->order = ++self->n_added;
    pending->spinner_chip = spinner_chip_new(file);
    gtk_box_append(self->chips_box, pending->spinner_chip);
    g_ptr_array_add(self->pending, pending);
    wenshu_attachment_load_async(file, pending->cancellable, on_load_done, pending);
}

void wenshu_attachment_bar_add_drop_target(WenshuAttachmentBar *self, GtkWidget *widget)
{
    GtkDropTarget *target = gtk_drop_target_new(G_TYPE_INVALID, GDK_ACTION_COPY);
    GType types[] = {GDK_TYPE_FILE_LIST, G_TYPE_FILE};
    gtk_drop_target_set_gtypes(target, types, G_N_ELEMENTS(types));
    g_signal_connect_object(target, "drop", G_CALLBACK(on_drop), self, 0);
    gtk_widget_add_controller(widget, GTK_EVENT_CONTROLLER(target)); /* takes the target */
}

gboolean wenshu_attachment_bar_paste(WenshuAttachmentBar *self, GdkClipboard *clipboard)
{
    GdkContentFormats *formats = gdk_content_formats_union_deserialize_gtypes(
        gdk_content_formats_ref(gdk_clipboard_get_formats(clipboard)));
    gboolean has_files = gdk_content_formats_contain_gtype(formats, GDK_TYPE_FILE_LIST);
    gboolean has_file = gdk_content_formats_contain_gtype(formats, G_TYPE_FILE);
    gboolean has_image = gdk_content_formats_contain_gtype(formats, GDK_TYPE_TEXTURE);
    gdk_content_formats_unref(formats);
    if (has_files || has_file) {
        gdk_clipboard_read_value_async(clipboard, has_files ? GDK_TYPE_FILE_LIST : G_TYPE_FILE,
                                       G_PRIORITY_DEFAULT, NULL, on_paste_files,
                                       g_object_ref(self));
        return TRUE;
    }
    if (has_image) {
        gdk_clipboard_read_texture_async(clipboard, NULL, on_paste_texture, g_object_ref(self));
        return TRUE;
    }
    return FALSE;
}

void wenshu_attachment_bar_set_accept_media(WenshuAttachmentBar *self, gboolean accept,
                                            const char *reason_when_not)
{
    self->accept_media = accept;
    g_free(self->media_reason);
    self->media_reason = accept || !reason_when_not ? NULL : g_strdup(reason_when_not);
    if (accept)
        return;
    gboolean removed = FALSE;
    for (guint i = g_list_model_get_n_items(G_LIST_MODEL(self->items)); i-- > 0;) {
        WenshuAttachment *a = g_list_model_get_item(G_LIST_MODEL(self->items), i);
        if (wenshu_attachment_is_media(a)) {
            char *reason = media_refusal(self, a);
            remove_attachment(self, a);
            refuse(self, reason);
            g_free(reason);
            removed = TRUE;
        }
        g_object_unref(a);
    }
    if (removed)
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

GListModel *wenshu_attachment_bar_get_items(WenshuAttachmentBar *self)
{
    return G_LIST_MODEL(self->items);
}

int wenshu_attachment_bar_get_n_pending(WenshuAttachmentBar *self)
{
    return (int)self->pending->len;
}

/* Cancel every load still running and forget it. */
static void cancel_pending(WenshuAttachmentBar *self)
{
    while (self->pending->len > 0) {
        struct pending_load *pending = g_ptr_array_index(self->pending, self->pending->len - 1);
        g_cancellable_cancel(pending->cancellable);
        detach_pending(self, pending);
    }
}

void wenshu_attachment_bar_clear(WenshuAttachmentBar *self)
{
    cancel_pending(self);
    gboolean had_items = g_list_model_get_n_items(G_LIST_MODEL(self->items)) > 0;
    GtkWidget *c;
    while ((c = gtk_widget_get_first_child(GTK_WIDGET(self->chips_box))))
        gtk_box_remove(self->chips_box, c);
    g_list_store_remove_all(self->items);
    if (had_items)
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

/* ---- the object -------------------------------------------------------------------------- */

static void wenshu_attachment_bar_init(WenshuAttachmentBar *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->items = g_list_store_new(WENSHU_TYPE_ATTACHMENT);
    self->pending = g_ptr_array_new();
    self->accept_media = TRUE;
    wenshu_attachment_bar_add_drop_target(self, GTK_WIDGET(self));
}

static void wenshu_attachment_bar_dispose(GObject *object)
{
    WenshuAttachmentBar *self = WENSHU_ATTACHMENT_BAR(object);
    if (!self->disposed) {
        cancel_pending(self);
        self->disposed = TRUE;
    }
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    g_clear_pointer(&self->paste_dir, g_free);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_ATTACHMENT_BAR);
    if (self->items)
        g_list_store_remove_all(self->items);
    G_OBJECT_CLASS(wenshu_attachment_bar_parent_class)->dispose(object);
}

static void wenshu_attachment_bar_finalize(GObject *object)
{
    WenshuAttachmentBar *self = WENSHU_ATTACHMENT_BAR(object);
    g_clear_object(&self->items);
    g_ptr_array_unref(self->pending);
    g_free(self->media_reason);
    G_OBJECT_CLASS(wenshu_attachment_bar_parent_class)->finalize(object);
}

static void wenshu_attachment_bar_class_init(WenshuAttachmentBarClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_attachment_bar_dispose;
    object_class->finalize = wenshu_attachment_bar_finalize;

    signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    signals[SIGNAL_REFUSED] = g_signal_new("refused", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

    gtk_widget_class_set_template_from_resource(widget_class, WENSHU_ATTACHMENT_BAR_UI);
    gtk_widget_class_bind_template_child(widget_class, WenshuAttachmentBar, scroller);
    gtk_widget_class_bind_template_child(widget_class, WenshuAttachmentBar, chips_box);
    gtk_widget_class_bind_template_child(widget_class, WenshuAttachmentBar, add_button);
    gtk_widget_class_bind_template_callback(widget_class, on_add_button_clicked);
    gtk_widget_class_set_css_name(widget_class, "attachmentbar");
}
