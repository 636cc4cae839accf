#!/usr/bin/env bash
# check_linkage.sh LIBRARY CONFIG: LIBRARY must be bound at load time (BIND_NOW) and make its calls
# to other libraries without PLT slots (no R_*_JUMP_SLOT relocations). Exit 77 = not applicable.
lib=$1
config=$2
if [[ "$config" == Debug ]]; then
    echo "SKIP: Debug builds keep the PLT (-fno-plt is applied outside Debug)"
    exit 77
fi
command -v readelf > /dev/null || { echo "SKIP: readelf not found (binutils)"; exit 77; }
[[ -f "$lib" ]] || { echo "FAIL: $lib does not exist"; exit 1; }
lib=$(readlink -f "$lib")
if ! readelf -h "$lib" > /dev/null 2>&1; then
    echo "SKIP: $lib is not an ELF file"
    exit 77
fi
status=0
if ! readelf -d -W "$lib" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW'; then
    echo "FAIL: $lib uses lazy binding (no BIND_NOW / NOW flag: linked without -z now)"
    status=1
fi
slots=$(readelf -r -W "$lib" | grep -c 'JUMP_SLOT')
if [[ "$slots" -gt 0 ]]; then
    echo "FAIL: $lib has $slots PLT slot relocation(s) (compiled without -fno-plt), e.g.:"
    readelf -r -W "$lib" | grep 'JUMP_SLOT' | head -n 3
    status=1
fi
[[ $status == 0 ]] && echo "ok: $lib is bound at load time and has no PLT slots"
exit $status
