// Builds the Hugging Face fixtures and their reference ids with the `tokenizers` npm package (the Rust library's
// Node bindings). Run by make-fixtures.sh from a work folder holding moby40k.txt, strings.json and
// t5-unigram-identity.vocab; writes tokenizer.json, vocab.json, merges.txt, unigram-tokenizer.json, hf-ids.json.
const t = require('tokenizers');
const fs = require('fs');
(async () => {
  const S = JSON.parse(fs.readFileSync('strings.json'));
  const idsOf = async (tok) => { const out = []; for (const s of S) out.push((await tok.encode(s, null, { addSpecialTokens: false })).getIds()); return out; };

  // 1. Byte-level BPE (GPT-2 style): train with the library's default BPE trainer, keep the first 700 merges over
  //    the full 256-symbol byte alphabet, add <|endoftext|> as a special token.
  const trainer = new t.Tokenizer(t.BPE.empty());
  trainer.setPreTokenizer(t.byteLevelPreTokenizer(false, true));
  trainer.train(['moby40k.txt']);
  trainer.save('trained.json', false);
  const trained = JSON.parse(fs.readFileSync('trained.json'));
  const alphabet = t.byteLevelAlphabet().sort((a, b) => a.codePointAt(0) - b.codePointAt(0));
  const vocab = {};
  for (const c of alphabet) vocab[c] = Object.keys(vocab).length;
  const merges = [];
  for (const [a, b] of trained.model.merges) {
    if (merges.length === 700) break;
    if (!(a in vocab) || !(b in vocab)) continue;
    merges.push([a, b]);
    if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
  }
  const eot = Object.keys(vocab).length;
  fs.writeFileSync('tokenizer.json', JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: eot, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  }, null, 1));
  fs.writeFileSync('vocab.json', JSON.stringify({ ...vocab, '<|endoftext|>': eot }));
  fs.writeFileSync('merges.txt', '#version: 0.2\n' + merges.map(([a, b]) => a + ' ' + b).join('\n') + '\n');
  const bpe = t.Tokenizer.fromFile('tokenizer.json');
  const pair = new t.Tokenizer(await t.BPE.fromFile('vocab.json', 'merges.txt'));
  pair.setPreTokenizer(t.byteLevelPreTokenizer(false, true));
  pair.addSpecialTokens(['<|endoftext|>']);

  // 2. Unigram tokenizer.json (T5 layout: <pad> 0, </s> 1, <unk> 2) from a sentencepiece Unigram vocabulary,
  //    Metaspace pre-tokenizer, no normalizer.
  const pieces = fs.readFileSync('t5-unigram-identity.vocab', 'utf8').trim().split('\n').map(l => { const [p, s] = l.split('\t'); return [p, Number(s)]; });
  const unigram = new t.Tokenizer(t.Unigram.init(pieces, { unkId: pieces.findIndex(([p]) => p === '<unk>') }));
  unigram.setPreTokenizer(t.metaspacePreTokenizer('▁', 'always', true));
  unigram.setDecoder(t.metaspaceDecoder('▁', 'always', true));
  unigram.addSpecialTokens(['<pad>', '</s>', '<unk>']);
  unigram.save('unigram-tokenizer.json', false);
  const uni = t.Tokenizer.fromFile('unigram-tokenizer.json');

  fs.writeFileSync('hf-ids.json', JSON.stringify({
    bpe: { vocab_size: bpe.getVocabSize(true), eos: eot, ids: await idsOf(bpe) },
    pair: { vocab_size: bpe.getVocabSize(true), eos: eot, ids: await idsOf(pair) },
    unigram: { vocab_size: uni.getVocabSize(true), eos: uni.tokenToId('</s>'), ids: await idsOf(uni) },
  }));
})();
