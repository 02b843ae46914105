#!/bin/sh
# Rebuild the benchmark programs' objects (bench/progs/*.o, committed) from
# their C sources, then compile the TypeScript harness. The objects are only
# rebuilt when clang is present and a source is newer than its object, so a
# machine without clang runs the committed objects.
set -e
cd "$(dirname "$0")/.."
if command -v clang >/dev/null 2>&1; then
  for c in bench/progs/*.c; do
    o="${c%.c}.o"
    if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ bench/progs/bench.h -nt "$o" ]; then
      echo "clang -O2 -g -target bpf $c" >&2
      clang -O2 -g -target bpf -Wall -Werror -c "$c" -o "$o"
    fi
  done
else
  echo "bench/build.sh: clang not found, using the committed objects" >&2
fi
# tsc emits JavaScript even when some file of the tree has type errors (other
# work in progress); say so, and run what was emitted.
npx tsc -p tsconfig.json || echo "bench/build.sh: tsc reported type errors (above); running the emitted JavaScript" >&2
