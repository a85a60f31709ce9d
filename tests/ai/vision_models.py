"""A tiny llama model that sees colours, and the llava-style projector (mmproj) that lets
llama.cpp show it pictures: both GGUF files written by the test in well under a second.

``llama_cpp.server --clip_model_path MMPROJ --chat_format llava-1-5`` (libmtmd, built by
``scripts/build-llama-cpp.sh``) turns each picture into ``IMAGE_TOKENS`` embeddings, one per
8 x 8 patch of the picture scaled to 64 x 64, and puts them in the prompt. The weights are
chosen so that what the model answers depends on those embeddings, and so on the pixels:

* the vision tower (CLIP, two layers of zeros, which pass the residual through) embeds a
  patch as its mean red and mean blue; the projector (``mlp``: linear, GELU, linear) sends
  a clearly red patch to the text model's dimension ``RED_DIM``, a clearly blue one to
  ``BLUE_DIM``, and anything else (grey, the padding of non-square pictures) to zero;
* the text model is ``servers.write_tiny_gguf``'s with two more words, ``red`` and
  ``blue``, which are as unlikely as end-of-text unless those two dimensions are lit. Its
  one attention layer (no queries or keys: every position attends to all the earlier ones
  equally) copies them from the picture's positions to the last one.

So a red photo makes it answer "red red red ...", a blue one "blue blue ...", and a prompt
without a picture only ever gets ``TINY_WORDS``: an answer cannot name the colour unless the
picture reached the model and was encoded.
"""

from __future__ import annotations

from pathlib import Path

from .servers import (
    FIRST_WORD,
    TINY_WORDS,
    finish_gguf,
    tiny_llama_layer,
    tiny_llama_writer,
)

COLOUR_WORDS = ("red", "blue")
SEEING_WORDS = TINY_WORDS + COLOUR_WORDS
N_EMBD = 64
RED_DIM, BLUE_DIM = N_EMBD - 2, N_EMBD - 1  # the text dimensions only a picture can light
IMAGE_SIZE, PATCH = 64, 8
IMAGE_TOKENS = (IMAGE_SIZE // PATCH) ** 2
VISION_EMBD, VISION_FF, VISION_LAYERS = 8, 16, 2


def write_seeing_gguf(path: Path) -> None:
    """The tiny text model, with ``red`` and ``blue`` reachable through the picture only."""
    import numpy as np

    f32 = np.float32
    writer = tiny_llama_writer(path, SEEING_WORDS, n_embd=N_EMBD)
    n_vocab = FIRST_WORD + len(SEEING_WORDS)
    text = slice(0, RED_DIM)  # what every token embeds as: ones, the colour dimensions zero
    n_text = RED_DIM
    embeddings = np.zeros((n_vocab, N_EMBD), dtype=f32)
    embeddings[:, text] = 1.0
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=f32))
    # Logits over the text dimensions: +1 for the six words, -20 for everything else. A lit
    # colour dimension adds 1000 x 8 x its share of the prompt (for 64 patches in 2,000
    # tokens: +256), which no prompt our tests send can dilute below the words' +1.
    output = np.zeros((n_vocab, N_EMBD), dtype=f32)
    output[:, text] = -20.0 / n_text
    output[FIRST_WORD : FIRST_WORD + len(TINY_WORDS), text] = 1.0 / n_text
    red, blue = FIRST_WORD + len(TINY_WORDS), FIRST_WORD + len(TINY_WORDS) + 1
    output[red, RED_DIM] = output[blue, BLUE_DIM] = 1000.0
    writer.add_tensor("output.weight", output)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, dtype=f32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, dtype=f32))
    # Values and output projection pass the colour dimensions on; all else in the layer is 0.
    colours = np.zeros((N_EMBD, N_EMBD), dtype=f32)
    colours[RED_DIM, RED_DIM] = colours[BLUE_DIM, BLUE_DIM] = 1.0
    for name, shape in tiny_llama_layer(N_EMBD).items():
        copies = name in ("attn_v", "attn_output")
        writer.add_tensor(f"blk.0.{name}.weight", colours if copies else np.zeros(shape, dtype=f32))
    finish_gguf(writer)


def write_colour_mmproj(path: Path) -> None:
    """A CLIP vision tower and ``mlp`` projector in the layout ``clip.cpp`` reads (key and
    tensor names from llama.cpp's tools/mtmd/clip-impl.h; numpy shapes are ggml's reversed)."""
    import gguf
    import numpy as np

    f32 = np.float32
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name("tiny colour projector for tests")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH)
    writer.add_uint32("clip.vision.embedding_length", VISION_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", VISION_FF)
    writer.add_uint32("clip.vision.block_count", VISION_LAYERS)
    writer.add_uint32("clip.vision.projection_dim", N_EMBD)
    writer.add_uint32("clip.vision.attention.head_count", 2)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    # Pixels reach the tower as 0..1: no normalisation.
    writer.add_array("clip.vision.image_mean", [0.0, 0.0, 0.0])
    writer.add_array("clip.vision.image_std", [1.0, 1.0, 1.0])

    # Patch embedding: dimension 0 is the patch's mean red, dimension 1 its mean blue.
    patch = np.zeros((VISION_EMBD, 3, PATCH, PATCH), dtype=f32)
    patch[0, 0] = patch[1, 2] = 1.0 / (PATCH * PATCH)
    writer.add_tensor("v.patch_embd.weight", patch)
    writer.add_tensor("v.position_embd.weight", np.zeros((IMAGE_TOKENS, VISION_EMBD), dtype=f32))
    # Layers of zeros add nothing to the residual (llava reads the last layer but one).
    width = {"attn_q": VISION_EMBD, "attn_k": VISION_EMBD, "attn_v": VISION_EMBD}
    width |= {"attn_out": VISION_EMBD, "ffn_up": VISION_FF, "ffn_down": VISION_EMBD}
    for il in range(VISION_LAYERS):
        for name, out in width.items():
            inputs = VISION_FF if name == "ffn_down" else VISION_EMBD
            writer.add_tensor(f"v.blk.{il}.{name}.weight", np.zeros((out, inputs), dtype=f32))
            writer.add_tensor(f"v.blk.{il}.{name}.bias", np.zeros(out, dtype=f32))
        for norm in ("ln1", "ln2"):
            writer.add_tensor(f"v.blk.{il}.{norm}.weight", np.ones(VISION_EMBD, dtype=f32))
            writer.add_tensor(f"v.blk.{il}.{norm}.bias", np.zeros(VISION_EMBD, dtype=f32))

    # Projector: 50 x (red - blue) - 10 and the reverse, so that only a difference above 0.2
    # (pure red is 0.75) survives the GELU; then onto the text model's colour dimensions.
    first = np.zeros((VISION_EMBD, VISION_EMBD), dtype=f32)
    first[0, 0] = first[1, 1] = 50.0
    first[0, 1] = first[1, 0] = -50.0
    first_bias = np.zeros(VISION_EMBD, dtype=f32)
    first_bias[:2] = -10.0
    writer.add_tensor("mm.0.weight", first)
    writer.add_tensor("mm.0.bias", first_bias)
    second = np.zeros((N_EMBD, VISION_EMBD), dtype=f32)
    second[RED_DIM, 0] = second[BLUE_DIM, 1] = 1.0
    writer.add_tensor("mm.2.weight", second)
    writer.add_tensor("mm.2.bias", np.zeros(N_EMBD, dtype=f32))
    finish_gguf(writer)
