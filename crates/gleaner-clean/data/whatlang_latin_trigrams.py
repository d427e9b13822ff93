"""Writes whatlang-latin-trigrams.txt from whatlang's own source:

    python3 whatlang_latin_trigrams.py ~/.cargo/registry/src/*/whatlang-0.18.0/src/trigrams/profiles.rs \
        > whatlang-latin-trigrams.txt

gleaner-clean's trigram scoring (src/trigrams.rs) must read the very profiles whatlang scores
with; its tests compare the two detectors on many texts. Regenerate when whatlang is upgraded.
"""
import re,sys
src=open(sys.argv[1],encoding='utf-8').read()
body=src[src.index('pub static LATIN_LANGS'):src.index('pub static CYRILLIC_LANGS')]
print("# The trigram profiles of whatlang 0.18.0's Latin-script languages (src/trigrams/profiles.rs,")
print("# LATIN_LANGS, in its order), one language a line: its ISO 639-3 code, a tab, then its 300")
print("# trigrams, most frequent first, three characters each. whatlang is by Serhii Potapov")
print("# and contributors, MIT licence (https://github.com/greyblake/whatlang-rs). Then the")
print("# alphabets of the same languages (src/alphabets/latin.rs, LATIN_ALPHABETS, in its order):")
print("# \"alphabet\", a tab, the code, a tab, the letters.")
for m in re.finditer(r'\(\s*Lang::(\w+),\s*&\[(.*?)\]\s*,?\s*\)', body, re.S):
    tris=re.findall(r"Trigram\('(.)', '(.)', '(.)'\)", m.group(2))
    assert len(tris)==300
    print(m.group(1).lower()+"\t"+''.join(a+b+c for a,b,c in tris))
# The alphabets (src/alphabets/latin.rs, LATIN_ALPHABETS in its order): "alphabet", a tab, the
# code, a tab, the letters.
latin=open(sys.argv[1].replace('trigrams/profiles.rs','alphabets/latin.rs'),encoding='utf-8').read()
consts=dict(re.findall(r'const (\w+): &str =\s*"([^"]*)";', latin))
table=latin[latin.index('const LATIN_ALPHABETS'):]
table=table[:table.index('];')]
for lang,const in re.findall(r'\(Lang::(\w+), (\w+)\)', table):
    print("alphabet\t"+lang.lower()+"\t"+consts[const])
