#!/usr/bin/env python3
"""Let TorchSharp's native shim load on hosts whose libstdc++ predates GCC 13.

libLibTorchSharp.so (TorchSharp 0.107.0) is linked with GCC 13, which records a need for the symbol
version GLIBCXX_3.4.32 only because <iostream> references `std::ios_base_library_init()` as a marker;
nothing calls it (the library has no relocation against it). Debian 12's libstdc++ stops at
GLIBCXX_3.4.30, so the dynamic loader refuses the library. This script marks each required symbol
version that the host's libstdc++ lacks as *weak* (VER_FLG_WEAK in the ELF version-needs table): the
loader then accepts the library, and would still fail loudly if a symbol of that version were actually
bound. It refuses (exit 1) when a missing version is used by a relocated symbol.

usage: relax_glibcxx.py LIB.so HOST_LIBSTDCXX    (idempotent; prints what it changed)
"""
import struct, sys

SHT_DYNSYM, SHT_VERNEED, SHT_VERSYM = 11, 0x6ffffffe, 0x6fffffff
VER_FLG_WEAK = 0x2

def sections(data):
    e_shoff, = struct.unpack_from('<Q', data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    out = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from('<IIQQQQIIQQ', data, off)
        out.append(dict(type=typ, offset=offset, size=size, link=link, entsize=entsize))
    return out

def cstr(data, off):
    return data[off:data.index(b'\0', off)].decode()

def main(lib, host):
    host_bytes = open(host, 'rb').read()
    data = bytearray(open(lib, 'rb').read())
    if data[:4] != b'\x7fELF' or data[4] != 2:
        sys.exit(f'{lib}: not a 64-bit ELF file')
    secs = sections(data)
    vn = next(s for s in secs if s['type'] == SHT_VERNEED)
    strtab = secs[vn['link']]['offset']
    changed, missing_idx = [], {}
    off = vn['offset']
    while True:
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from('<HHIII', data, off)
        aux = off + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from('<IHHII', data, aux)
            name = cstr(data, strtab + vna_name)
            if cstr(data, strtab + vn_file).startswith('libstdc++') and name.encode() + b'\0' not in host_bytes:
                missing_idx[vna_other] = name
                if not vna_flags & VER_FLG_WEAK:
                    struct.pack_into('<H', data, aux + 4, vna_flags | VER_FLG_WEAK)
                    changed.append(name)
            if vna_next == 0: break
            aux += vna_next
        if vn_next == 0: break
        off += vn_next
    # Refuse when a symbol of a missing version is really bound through a relocation.
    if missing_idx:
        versym = next(s for s in secs if s['type'] == SHT_VERSYM)
        dynsym = next(s for s in secs if s['type'] == SHT_DYNSYM)
        used = set()
        for rs in (s for s in secs if s['type'] in (4, 9)):  # SHT_RELA, SHT_REL
            step = 24 if rs['type'] == 4 else 16
            for r in range(rs['offset'], rs['offset'] + rs['size'], step):
                info, = struct.unpack_from('<Q', data, r + 8)
                used.add(info >> 32)
        for idx in used:
            ver, = struct.unpack_from('<H', data, versym['offset'] + 2 * idx)
            if (ver & 0x7fff) in missing_idx:
                sys.exit(f'{lib}: symbol #{idx} is bound with {missing_idx[ver & 0x7fff]}, which {host} lacks; install a newer libstdc++')
    if changed:
        open(lib, 'wb').write(data)
        print(f'{lib}: marked {", ".join(changed)} weak (not provided by {host})')

if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
