#!/bin/sh
# Rebuild the policy objects (needs clang and libbpf-dev):
#   sh examples/http-policy/build.sh
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
arch_inc=/usr/include/$(uname -m)-linux-gnu
for v in policy_v1 policy_v2; do
	clang -O2 -g -target bpf -Wall -Werror -I"$arch_inc" -I"$dir" -c "$dir/$v.c" -o "$dir/$v.o"
	echo "built $dir/$v.o"
done
