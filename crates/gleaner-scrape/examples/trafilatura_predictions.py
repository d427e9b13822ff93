#!/usr/bin/env python3
"""trafilatura's predictions for one evaluation set, for comparison with gleaner.

usage: trafilatura_predictions.py SET_DIR OUT.jsonl

Reads SET_DIR/ground-truth.json for the ids and SET_DIR/html/<id>.html.gz (or .html), runs
`trafilatura.extract(html)` with its defaults on each page and writes one JSON line
{"id": …, "body": …} per page (empty body when trafilatura returns nothing). Run it with the
Python of a virtualenv that has trafilatura (gleaner does not depend on it):

    python3 -m venv /work/venv-traf && /work/venv-traf/bin/pip install trafilatura
"""
import gzip, json, os, sys, time

import trafilatura


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    set_dir, out = sys.argv[1], sys.argv[2]
    truth = json.load(open(os.path.join(set_dir, "ground-truth.json"), encoding="utf-8"))
    start = time.process_time()
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        for key in sorted(truth):
            base = os.path.join(set_dir, "html", key)
            if os.path.exists(base + ".html.gz"):
                raw = gzip.open(base + ".html.gz").read()
            elif os.path.exists(base + ".html"):
                raw = open(base + ".html", "rb").read()
            else:
                raw = b""
            html = raw.decode("utf-8", errors="replace")
            try:
                body = trafilatura.extract(html) or ""
            except Exception as e:  # a crash on one page is an empty prediction
                print(f"trafilatura: {key}: {e}", file=sys.stderr)
                body = ""
            f.write(json.dumps({"id": key, "body": body}) + "\n")
    os.replace(out + ".tmp", out)
    print(f"trafilatura: {len(truth)} pages, {time.process_time() - start:.1f} CPU s", file=sys.stderr)


if __name__ == "__main__":
    main()
