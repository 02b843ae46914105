#!/bin/sh
# Rebuild the BPF objects that sit beside their C sources in examples/ and
# test/fixtures/elf/, and the tool outputs the tests compare against
# (llvm-objdump -dr, bpftool btf dump). Needs clang, llvm and libbpf-dev
# (for <bpf/bpf_helpers.h>); bpftool is optional.
#
#   sh examples/build.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
CLANG=${CLANG:-clang}
OBJDUMP=${OBJDUMP:-llvm-objdump}
OBJCOPY=${OBJCOPY:-llvm-objcopy}
arch_inc=/usr/include/$(uname -m)-linux-gnu
CFLAGS="-O2 -target bpf -Wall -Werror -I$arch_inc"

# Objects built without -g (no BTF): legacy maps, old-style programs.
nodebug="socket_filter legacy_maps legacy_maps20 legacy_maps36 nofunc"

build() { # dir name
	src="$1/$2.c" obj="$1/$2.o" g=-g
	for n in $nodebug; do [ "$n" = "$2" ] && g=; done
	$CLANG $CFLAGS $g -c "$src" -o "$obj"
	echo "built $obj${g:+ (with BTF)}"
}

for f in "$root"/examples/*.c; do build "$root/examples" "$(basename "$f" .c)"; done
for f in "$root"/test/fixtures/elf/*.c; do build "$root/test/fixtures/elf" "$(basename "$f" .c)"; done

fx="$root/test/fixtures/elf"
# Old compilers emitted no FUNC symbols: strip it, the section is the program.
$OBJCOPY --strip-symbol=legacy_entry "$fx/nofunc.o"
# Big-endian object, which the reader must reject.
$CLANG -O2 -target bpfeb -I"$arch_inc" -c "$fx/nofunc.c" -o "$fx/nofunc_be.o"

# Tool outputs the tests compare with (deterministic: paths stripped).
for o in "$root"/examples/*.o "$fx"/*.o; do
	case "$o" in *_be.o) continue ;; esac
	base=${o%.o}
	(cd "$(dirname "$o")" && $OBJDUMP -dr "$(basename "$o")") | sed 1,2d > "$base.objdump.txt"
	if command -v bpftool >/dev/null 2>&1 && $OBJDUMP -h "$o" | grep -q ' \.BTF '; then
		bpftool btf dump file "$o" > "$base.btf.txt"
	fi
done
echo done
