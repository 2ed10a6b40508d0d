#!/usr/bin/env bash
# Regenerates the tokenizer fixtures in this folder and expected-ids.json (see README.md). Needs Debian's
# sentencepiece and python3-sentencepiece, node/npm and the npm registry. spm_train's .model bytes can differ
# between runs (the vocabulary does not), so the committed files are the reference: rerun only to replace them all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c 40000 < <(zcat "$repo/experiments/Harness.Experiments/Data/Corpora/moby-dick.txt.gz") > moby40k.txt
cp "$here/strings.json" .
common=(--input=moby40k.txt --character_coverage=1.0 --num_threads=1 --minloglevel=2)
# LLaMA layout: BPE, byte fallback, digits split, no normalization, unk 0 / <s> 1 / </s> 2.
spm_train "${common[@]}" --model_prefix=llama-bpe --model_type=bpe --vocab_size=600 --byte_fallback=true --split_digits=true \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1
# T5 layout: Unigram, nmt_nfkc normalization (T5's), pad 0 / </s> 1 / <unk> 2, no <s> (bos_id = -1).
spm_train "${common[@]}" --model_prefix=t5-unigram --model_type=unigram --vocab_size=400 --normalization_rule_name=nmt_nfkc \
  --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1
# The same layout without normalization: only its vocabulary is used, for the Unigram tokenizer.json.
spm_train "${common[@]}" --model_prefix=t5-unigram-identity --model_type=unigram --vocab_size=400 --normalization_rule_name=identity \
  --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1
/usr/bin/python3 - <<'PY'
import json, sentencepiece as spm
S = json.load(open('strings.json'))
out = {}
for m in ['llama-bpe', 't5-unigram']:
    sp = spm.SentencePieceProcessor(model_file=m + '.model')
    out[m] = {'vocab_size': sp.get_piece_size(), 'eos': sp.eos_id(), 'ids': [sp.encode(s) for s in S], 'version': spm.__version__}
json.dump(out, open('spm-ids.json', 'w'))
PY
npm init -y >/dev/null
npm install --no-audit --no-fund tokenizers@0.23.2 >/dev/null
cp "$here/make-hf-fixtures.js" . && node make-hf-fixtures.js
mkdir -p "$here/hf-bpe" "$here/gpt2-pair" "$here/hf-unigram"
cp llama-bpe.model t5-unigram.model "$here/"
cp tokenizer.json "$here/hf-bpe/"
cp vocab.json merges.txt "$here/gpt2-pair/"
cp unigram-tokenizer.json "$here/hf-unigram/tokenizer.json"
/usr/bin/python3 - "$here/expected-ids.json" <<'PY'
import json, sys
S = json.load(open('strings.json')); spm = json.load(open('spm-ids.json')); hf = json.load(open('hf-ids.json'))
lib_spm = 'sentencepiece %s (Debian python3-sentencepiece)' % spm['llama-bpe']['version']
lib_hf = 'tokenizers 0.23.2 (npm, Hugging Face Rust bindings)'
def entry(file, lib, d, **extra): return dict(file=file, library=lib, vocab_size=d['vocab_size'], end_of_text=d['eos'], ids=d['ids'], **extra)
out = {'strings': S, 'tokenizers': [
    entry('llama-bpe.model', lib_spm, spm['llama-bpe']),
    entry('t5-unigram.model', lib_spm, spm['t5-unigram']),
    entry('hf-bpe/tokenizer.json', lib_hf, hf['bpe']),
    entry('gpt2-pair/vocab.json', lib_hf + ', BPE.fromFile + ByteLevel pre-tokenizer', hf['pair']),
    entry('hf-unigram/tokenizer.json', lib_hf, hf['unigram'], known_differences={'6': 'special tokens written in the text: ML.Tokenizers 3.0.0 prepends a U+2581 piece to the text after each one, Hugging Face does not (the segment already starts with a space)'}),
]}
s = json.dumps(out, ensure_ascii=False)
open(sys.argv[1], 'w').write(s.replace('{"file"', '\n  {"file"') + '\n')
PY
echo "fixtures and expected-ids.json rewritten in $here"
