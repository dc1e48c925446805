#!/usr/bin/python3
"""preprocess_ref.py: the Hugging Face image processors in numpy + PIL.

Written from transformers' models/qwen2_vl/image_processing_qwen2_vl.py
(Qwen2VLImageProcessor, the PIL one: smart_resize, _preprocess), and
models/smolvlm/image_processing_smolvlm.py (SmolVLMImageProcessor: resize,
resize_for_vision_encoder, split_image, preprocess), with image_transforms'
resize (PIL Image.resize, reducing_gap None), rescale (float64 multiply, then
float32) and normalize ((x - mean) / std in float32). transformers itself is
not needed: the steps are repeated here as the processors run them, on one
channels-last uint8 RGB image.

Beyond HF: `max_tiles` (the engine's cap on the SmolVLM tile grid) lowers
longest_edge one tile size at a time until rows * cols <= max_tiles; with
max_tiles < 0 this is HF's processor unchanged.
"""
import math

import numpy as np
from PIL import Image

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5]
IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5]
SMOLVLM_MAX_IMAGE_SIZE = 4096

FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


# ---- image_transforms -------------------------------------------------------

def pil_resize(image, height, width, resample):
    """image_transforms.resize / SmolVLM's resize: through a PIL image."""
    pil = Image.fromarray(image)
    return np.array(pil.resize((width, height), resample=resample, reducing_gap=None))


def rescale(image, scale=1 / 255):
    return (image.astype(np.float64) * scale).astype(np.float32)


def normalize(image, mean, std):
    """image_transforms.normalize on channels-last float32."""
    mean = np.array(mean, dtype=image.dtype)
    std = np.array(std, dtype=image.dtype)
    return (image - mean) / std


# ---- Qwen2-VL ---------------------------------------------------------------

def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=14 * 14 * 4 * 1280):
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def qwen_preprocess(frames, min_pixels=56 * 56, max_pixels=28 * 28 * 1280, patch_size=14,
                    merge_size=2, temporal_patch_size=2, image_mean=OPENAI_CLIP_MEAN,
                    image_std=OPENAI_CLIP_STD, resample="bicubic"):
    """Qwen2VLImageProcessor._preprocess on a list of uint8 [H][W][3] frames.

    Returns (flatten_patches float32 [t*h*w][C*tp*p*p], (grid_t, grid_h, grid_w),
    resized uint8 [n_frames][H'][W'][3])."""
    height, width = frames[0].shape[:2]
    resized_height, resized_width = smart_resize(height, width, factor=patch_size * merge_size,
                                                 min_pixels=min_pixels, max_pixels=max_pixels)
    processed, resized8 = [], []
    for image in frames:
        image = pil_resize(image, resized_height, resized_width, FILTERS[resample])
        resized8.append(image)
        image = rescale(image)
        image = normalize(image, image_mean, image_std)
        processed.append(image.transpose(2, 0, 1))  # to ChannelDimension.FIRST
    patches = np.array(processed)
    if patches.shape[0] % temporal_patch_size != 0:
        repeats = np.repeat(patches[-1][np.newaxis], temporal_patch_size - 1, axis=0)
        patches = np.concatenate([patches, repeats], axis=0)
    channel = patches.shape[1]
    grid_t = patches.shape[0] // temporal_patch_size
    grid_h, grid_w = resized_height // patch_size, resized_width // patch_size
    patches = patches.reshape(grid_t, temporal_patch_size, channel, grid_h // merge_size, merge_size,
                              patch_size, grid_w // merge_size, merge_size, patch_size)
    patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    flatten_patches = patches.reshape(grid_t * grid_h * grid_w,
                                      channel * temporal_patch_size * patch_size * patch_size)
    return flatten_patches, (grid_t, grid_h, grid_w), np.array(resized8)


def qwen_n_tokens(grid, merge_size=2):
    grid_t, grid_h, grid_w = grid
    return grid_t * grid_h * grid_w // (merge_size * merge_size)


# ---- Idefics3 / SmolVLM -----------------------------------------------------

def _resize_output_size_rescale_to_max_len(height, width, min_len=1, max_len=None):
    max_len = max(height, width) if max_len is None else max_len
    aspect_ratio = width / height
    if width >= height:
        width = max_len
        height = int(width / aspect_ratio)
        if height % 2 != 0:
            height += 1
    elif height > width:
        height = max_len
        width = int(height * aspect_ratio)
        if width % 2 != 0:
            width += 1
    height = max(height, min_len)
    width = max(width, min_len)
    return height, width


def _resize_output_size_scale_below_upper_bound(height, width, max_len=None):
    max_len = max(height, width) if max_len is None else max_len
    aspect_ratio = width / height
    if width >= height and width > max_len:
        width = max_len
        height = int(width / aspect_ratio)
    elif height > width and height > max_len:
        height = max_len
        width = int(height * aspect_ratio)
    height = max(height, 1)
    width = max(width, 1)
    return height, width


def get_resize_output_image_size(height, width, resolution_max_side, max_image_size):
    height, width = _resize_output_size_rescale_to_max_len(height, width, max_len=resolution_max_side)
    return _resize_output_size_scale_below_upper_bound(height, width, max_len=max_image_size)


def resize_for_vision_encoder_size(height, width, vision_encoder_max_size):
    aspect_ratio = width / height
    if width >= height:
        width = math.ceil(width / vision_encoder_max_size) * vision_encoder_max_size
        height = int(width / aspect_ratio)
        height = math.ceil(height / vision_encoder_max_size) * vision_encoder_max_size
    elif height > width:
        height = math.ceil(height / vision_encoder_max_size) * vision_encoder_max_size
        width = int(height * aspect_ratio)
        width = math.ceil(width / vision_encoder_max_size) * vision_encoder_max_size
    return height, width


def split_image(image, max_size, resample):
    """SmolVLMImageProcessor.split_image on channels-last uint8."""
    height, width = image.shape[:2]
    max_height = max_width = max_size
    frames = []
    if height > max_height or width > max_width:
        num_splits_h = math.ceil(height / max_height)
        num_splits_w = math.ceil(width / max_width)
        optimal_height = math.ceil(height / num_splits_h)
        optimal_width = math.ceil(width / num_splits_w)
        for r in range(num_splits_h):
            for c in range(num_splits_w):
                start_x = c * optimal_width
                start_y = r * optimal_height
                end_x = min(start_x + optimal_width, width)
                end_y = min(start_y + optimal_height, height)
                frames.append(image[start_y:end_y, start_x:end_x, :])
        if height != max_height or width != max_width:
            image = pil_resize(image, max_height, max_width, resample)
    else:
        num_splits_h, num_splits_w = 0, 0
    frames.append(image)
    return frames, num_splits_h, num_splits_w


def convert_to_rgb(image):
    """SmolVLM's convert_to_rgb: RGBA over white, back to RGB."""
    pil = Image.fromarray(image).convert("RGBA")
    background = Image.new("RGBA", pil.size, (255, 255, 255))
    return np.array(Image.alpha_composite(background, pil).convert("RGB"))


def _tile_count(height, width, longest_edge, tile_size, max_image_size):
    h, w = get_resize_output_image_size(height, width, longest_edge, max_image_size)
    h, w = resize_for_vision_encoder_size(h, w, tile_size)
    if h > tile_size or w > tile_size:
        return math.ceil(h / tile_size) * math.ceil(w / tile_size)
    return 0


def idefics3_preprocess(image, longest_edge=2048, tile_size=512, max_image_size=SMOLVLM_MAX_IMAGE_SIZE,
                        max_tiles=-1, do_image_splitting=True, image_mean=IMAGENET_STANDARD_MEAN,
                        image_std=IMAGENET_STANDARD_STD, resample="lanczos"):
    """SmolVLMImageProcessor.preprocess on one uint8 [H][W][3] image.

    Returns (pixel_values float32 [n][3][S][S], rows, cols, tiles uint8
    [n][S][S][3] before rescale, the longest_edge used)."""
    filt = FILTERS[resample]
    height, width = image.shape[:2]
    if do_image_splitting and max_tiles >= 0:
        while _tile_count(height, width, longest_edge, tile_size, max_image_size) > max_tiles:
            longest_edge = (longest_edge - 1) // tile_size * tile_size
            if longest_edge < tile_size:
                raise ValueError("no longest_edge meets max_tiles")
    h, w = get_resize_output_image_size(height, width, longest_edge, max_image_size)
    image = pil_resize(image, h, w, filt)
    if do_image_splitting:
        h, w = resize_for_vision_encoder_size(h, w, tile_size)
        image = pil_resize(image, h, w, filt)
        frames, rows, cols = split_image(image, tile_size, filt)
    else:
        frames = [pil_resize(image, tile_size, tile_size, filt)]
        rows, cols = 0, 0
    frames = [convert_to_rgb(f) for f in frames]
    tiles8 = np.array(frames)
    out = [normalize(rescale(f), image_mean, image_std).transpose(2, 0, 1) for f in frames]
    return np.array(out), rows, cols, tiles8, longest_edge


def idefics3_n_tokens(rows, cols, image_seq_len):
    return (rows * cols + 1) * image_seq_len
