/* wenshu-catalog-dialog.h: the "Get models" window. It lists every model of
 * the catalogue (libwenshu-models, app/models/catalog.h) with what it can
 * do, its size, the memory it needs and its state on disk, the one
 * recommended for this computer's memory first; it downloads a model's
 * files one after another (pause keeps the .part files, so a paused
 * download resumes even after a restart; cancel deletes them), imports a
 * GGUF file or a folder of them from disk, removes an installed model, and
 * hands an installed one to the window through "model-chosen".
 * The download mirror is the "download-mirror" setting.
 *
 * Signals:
 *   model-chosen (const char *model_path, const char *mmproj_path or NULL):
 *     the user pressed Use on an installed model.
 *
 * Ownership: like any GtkWindow, the dialog owns itself; present it, and it
 * goes when closed (destroying it pauses its running downloads, which keep
 * their .part files), unless wenshu_catalog_dialog_present() made it.
 * Thread-safety: main thread only; downloads run on worker threads and
 * report back through the main loop.
 */
#ifndef WENSHU_CATALOG_DIALOG_H
#define WENSHU_CATALOG_DIALOG_H

#include <adwaita.h>

G_BEGIN_DECLS

#define WENSHU_TYPE_CATALOG_DIALOG (wenshu_catalog_dialog_get_type())
G_DECLARE_FINAL_TYPE(WenshuCatalogDialog, wenshu_catalog_dialog, WENSHU, CATALOG_DIALOG, AdwWindow)

/* A dialog over the default catalogue ($WENSHU_CATALOG, else the installed
 * one) that recommends from this machine's RAM and largest GPU memory
 * (wenshu_detect_memory). parent may be NULL. A catalogue that cannot be
 * read is shown as a one-line error naming the file. */
WenshuCatalogDialog *wenshu_catalog_dialog_new(GtkWindow *parent);

/* The same for given memory sizes in bytes (vram_bytes 0: no GPU), so that
 * the recommendation can be checked. */
WenshuCatalogDialog *wenshu_catalog_dialog_new_for_memory(GtkWindow *parent, guint64 ram_bytes,
                                                          guint64 vram_bytes);

/* What the window's win.get-models action calls: present parent's one
 * catalogue window, made on the first call, when its "model-chosen" is
 * connected to model_chosen with user_data (a GObject, then disconnected
 * when it goes, or NULL). Closing the window only hides it, so that its
 * downloads go on; it is destroyed with parent (which pauses them: the
 * .part files stay). Ownership: the dialog belongs to GTK's toplevels;
 * the result is borrowed. */
WenshuCatalogDialog *wenshu_catalog_dialog_present(GtkWindow *parent, GCallback model_chosen,
                                                   gpointer user_data);

/* Import a GGUF file, or the .gguf files of a folder, as the catalogue
 * files they are (checked by size and SHA-256 on a worker thread); the
 * outcome appears in the import row (named "import-result") and in the
 * model's row. This is what the Import buttons' file choosers call; it
 * does nothing while an import runs. */
void wenshu_catalog_dialog_import(WenshuCatalogDialog *self, const char *path);

/* The catalogue id of the recommended model, or NULL when none fits. Owned
 * by the dialog. */
const char *wenshu_catalog_dialog_get_recommended(WenshuCatalogDialog *self);

G_END_DECLS

#endif /* WENSHU_CATALOG_DIALOG_H */
