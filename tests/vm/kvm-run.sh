#!/bin/bash
# kvm-run.sh - run a test program as root inside Debian's stock kernel under qemu and
# exit with the program's exit status. KVM on hardware virtualization, TCG otherwise.
#
# usage: kvm-run.sh [-m MB] [-c CPUS] [-t SECS] [-f FILE]... [-p PATH]... [-9 DIR] [--]
#        PROG [ARGS...]
#   PROG   ELF binary (static or dynamic: the libraries ldd lists go along) or a
#          #!/bin/sh or #!/bin/bash script; runs with cwd /test, where -f files (and
#          their libraries) land: -f more binaries for a runner script PROG.
#   -p PATH  a host file or folder put at the same PATH in the guest, each ELF
#          file with its libraries (a daemon with its plugins: /usr/lib/ipsec).
#   -9 DIR share host DIR read-write into the guest at the same path (virtio-9p),
#          e.g. a build tree, so that .gcda coverage files land back on the host.
# exit status: PROG's; 124 on timeout (-t, default 120 s); 125 when the guest died
#   before reporting (kernel panic, out of memory, bad initramfs); 77 when the VM
#   cannot run here at all (qemu missing and not root to install it, packages or
#   the kernel cannot be downloaded): the caller reports a skip.
# env: KVMRUN_CACHE (cache folder, default build/kvm-cache of this source tree),
#   KVMRUN_KERNEL_PKG (pin a linux-image-* package), KVMRUN_MODULES (more modules
#   to load at boot), KVMRUN_BOOT_MODULES (replaces the list), KVMRUN_HOST_BINS
#   (more host programs for the guest's /bin, with libraries), KVMRUN_ACCEL=kvm|tcg,
#   KVMRUN_CPU (qemu -cpu), KVMRUN_APPEND (more kernel arguments), KVMRUN_BZIMAGE=1
#   (boot the compressed vmlinuz instead of the PVH vmlinux).
#
# Adapted from the proven recipe of shared/reference/kernel-vm-harness.md: the
# kernel package is downloaded with apt-get download and unpacked, never installed;
# the guest has no NIC (-nodefaults), so nothing it sends can leave it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMRUN_CACHE:-$ROOT/build/kvm-cache}
MEM=512 CPUS=1 TIMEOUT=120 SHARE='' FILES=() PATHS=()
while getopts "m:c:t:f:p:9:h" o; do
  case $o in
    m) MEM=$OPTARG ;; c) CPUS=$OPTARG ;; t) TIMEOUT=$OPTARG ;;
    f) FILES+=("$OPTARG") ;; p) PATHS+=("$OPTARG") ;; 9) SHARE=$(realpath "$OPTARG") ;;
    *) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "kvm-run: no program given (-h for help)" >&2; exit 2; }
PROG=$(realpath "$1"); shift

# Loaded at boot; busybox modprobe adds their dependencies from modules.dep. A module
# that will not load is reported, not fatal (aesni-intel needs AES-NI in the vCPU).
# The XFRM/ESP ones are for the IPsec tests that share this harness.
BOOT_MODULES="${KVMRUN_BOOT_MODULES:-sctp sctp_diag crc32c_generic crc32c-intel xfrm_user
 xfrm_algo af_key esp4 esp6 esp4_offload esp6_offload ah4 ah6 xfrm_interface xfrm4_tunnel
 xfrm6_tunnel aesni-intel gcm ghash-generic ghash-clmulni-intel ctr seqiv echainiv authenc
 authencesn chacha20poly1305 chacha-x86_64 poly1305-x86_64 sha512_generic cmac xcbc ccm
 veth dummy} ${KVMRUN_MODULES:-}"
SHARE_MODULES="virtio_pci 9pnet_virtio 9p"     # loaded only with -9
# Copied whole, for the kernel's on-demand loading (request_module -> /sbin/modprobe).
COPY_DIRS="kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto kernel/net/sctp
 kernel/net/xfrm kernel/net/key"
HOST_BINS="/bin/dash /bin/bash /bin/ip /bin/ss ${KVMRUN_HOST_BINS:-}"

log() { echo "kvm-run: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE"

ensure_pkgs() {  # install what is missing; another apt may hold the dpkg lock: wait
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ]; then
    skip "missing ${missing[*]} and not root to install them" \
         "(as root: apt-get install --no-install-recommends ${missing[*]})"
  fi
  log "installing ${missing[*]}"
  for _ in $(seq 30); do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >/dev/null 2>"$TMP/apt.err" && return
    grep -q 'lock' "$TMP/apt.err" || apt-get update -q >/dev/null 2>&1 || true
    sleep 10
  done
  cat "$TMP/apt.err" >&2
  skip "cannot install ${missing[*]} (see apt's message above)"
}
ensure_pkgs qemu-system-x86 busybox-static cpio xz-utils iproute2

# --- 1. Debian's current kernel (what linux-image-amd64 points at): downloaded and
#        unpacked into the cache, never installed on this machine.
kpkg() { apt-cache depends linux-image-amd64 2>/dev/null |
         awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
cached_kpkg() {   # the newest kernel already unpacked in the cache, or nothing
  local d k=
  for d in "$CACHE"/linux-image-*; do
    [ -f "$d/.ok" ] || continue
    if [ -z "$k" ] || [ "$d/.ok" -nt "$CACHE/$k/.ok" ]; then k=$(basename "$d"); fi
  done
  echo "$k"
}
KPKG=${KVMRUN_KERNEL_PKG:-$(kpkg)}
[ -n "$KPKG" ] || { apt-get update -q >/dev/null 2>&1 || true; KPKG=$(kpkg); }
if [ -z "$KPKG" ]; then   # offline: the newest kernel already in the cache will do
  KPKG=$(cached_kpkg)
  [ -n "$KPKG" ] || skip "cannot resolve linux-image-amd64 (no package lists, no cached kernel)"
  log "linux-image-amd64 unresolved: using the cached $KPKG"
fi
KDIR=$CACHE/$KPKG
if [ ! -f "$KDIR/.ok" ]; then
  log "fetching $KPKG"
  mkdir -p "$TMP/dl"     # (apt warns that root downloads it unsandboxed: harmless)
  if ! (cd "$TMP/dl" && { apt-get download -q "$KPKG" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; apt-get download -q "$KPKG" >/dev/null 2>&1; }; }); then
    # a new ABI that cannot be fetched (offline): an older cached kernel will do,
    # unless this one was asked for by name
    old=$(cached_kpkg)
    [ -z "${KVMRUN_KERNEL_PKG:-}" ] && [ -n "$old" ] ||
      skip "cannot download $KPKG (apt-get download failed: offline or dropped from the archive?)"
    log "cannot download $KPKG: using the cached $old"
    KPKG=$old KDIR=$CACHE/$old
  fi
fi
if [ ! -f "$KDIR/.ok" ]; then
  rm -rf "$KDIR.new"; dpkg -x "$TMP"/dl/"$KPKG"_*.deb "$KDIR.new"
  KVER=$(ls "$KDIR.new/lib/modules")
  busybox depmod -b "$KDIR.new" "$KVER"      # the .deb has no modules.dep (postinst)
  # Uncompressed vmlinux, booted through its PVH entry: skips the real-mode setup
  # and the xz decompressor (a few seconds under TCG, minutes under PVM "KVM").
  V=$KDIR.new/boot/vmlinuz-$KVER
  off=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$V" | head -1 | cut -d: -f1 || true)
  if [ -n "$off" ]; then tail -c +$((off + 1)) "$V" | xz -dc > "$KDIR.new/vmlinux" 2>/dev/null || true; fi
  [ "$(head -c 4 "$KDIR.new/vmlinux" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
    rm -f "$KDIR.new/vmlinux"
  touch "$KDIR.new/.ok"; rm -rf "$KDIR"; mv "$KDIR.new" "$KDIR"
fi
KVER=$(ls "$KDIR/lib/modules"); MDIR=$KDIR/lib/modules/$KVER
KERNEL=$KDIR/boot/vmlinuz-$KVER
[ -f "$KDIR/vmlinux" ] && [ "${KVMRUN_BZIMAGE:-0}" = 0 ] && KERNEL=$KDIR/vmlinux

copy_elf() {  # copy_elf SRC DEST STAGE: SRC to STAGE/DEST, with the libraries ldd lists
  local src=$1 dst=$2 stage=$3 lib
  mkdir -p "$stage$(dirname "$dst")"; cp -L "$src" "$stage$dst"
  ldd "$src" >/dev/null 2>&1 || return 0     # static binary or script
  for lib in $(ldd "$src" | awk '/=> \// {print $3} /^\t\// {print $1}'); do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"; cp -L "$lib" "$stage$lib"
  done
}

module_closure() {  # module names (- or _) -> their .ko paths and dependencies
  awk -v want="$*" '
    BEGIN { n = split(want, w, /[ \t\n]+/)
            for (i = 1; i <= n; i++) if (w[i] != "") { x = w[i]; gsub("-", "_", x); W[x] = 1 } }
    { p = $1; sub(":$", "", p); b = p; sub(".*/", "", b); sub("\\.ko.*$", "", b); gsub("-", "_", b)
      if (b in W) { found[b] = 1; print p; for (i = 2; i <= NF; i++) print $i } }
    END { for (x in W) if (!(x in found)) print "MISSING " x }' "$MDIR/modules.dep" | sort -u
}

# --- 2. base initramfs: busybox, dash, bash, iproute2, modules, /init; cached
STAMP=$( (cat "$0" /bin/busybox; for b in $HOST_BINS; do cat "$b"; done; echo $HOST_BINS $BOOT_MODULES) |
         md5sum | cut -c1-12)
BASE=$KDIR/base-$STAMP.cpio.gz
if [ ! -f "$BASE" ]; then
  log "building base initramfs for $KVER"
  ST=$TMP/stage
  mkdir -p "$ST"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root,test,lib64,"lib/modules/$KVER"}
  cp /bin/busybox "$ST/bin/busybox"
  for a in $(busybox --list); do [ -e "$ST/bin/$a" ] || ln -s busybox "$ST/bin/$a"; done
  ln -s ../bin/busybox "$ST/sbin/modprobe"       # CONFIG_MODPROBE_PATH=/sbin/modprobe
  # Debian's busybox-static shell runs its own applets before PATH (`ip` would be
  # busybox's, without xfrm), so /bin/sh is dash and ip/ss are iproute2's.
  for b in $HOST_BINS; do
    rm -f "$ST/bin/$(basename "$b")"; copy_elf "$b" "/bin/$(basename "$b")" "$ST"
  done
  ln -sf dash "$ST/bin/sh"
  # enough of /etc for libc look-ups (localhost, getprotobyname("sctp"), root's name)
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$ST/etc/hosts"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$ST/etc/passwd"; echo 'root:x:0:' > "$ST/etc/group"
  for f in /etc/protocols /etc/services; do [ -f "$f" ] && cp "$f" "$ST/etc/"; done
  for m in $BOOT_MODULES; do echo "$m"; done > "$ST/etc/kvmrun.modules"
  { module_closure $BOOT_MODULES $SHARE_MODULES
    (cd "$MDIR" && for d in $COPY_DIRS; do find "$d" -name '*.ko*'; done); } |
  while read -r ko; do
    case $ko in MISSING*)
      grep -q "/${ko#MISSING }.ko" "$MDIR/modules.builtin" || log "no module ${ko#MISSING }"
      continue ;; esac
    mkdir -p "$ST/lib/modules/$KVER/$(dirname "$ko")"; cp "$MDIR/$ko" "$ST/lib/modules/$KVER/$ko"
  done
  cp "$MDIR"/modules.builtin* "$MDIR/modules.order" "$ST/lib/modules/$KVER/"
  busybox depmod -b "$ST" "$KVER"
  cat > "$ST/init" <<'EOF'
#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
for d in /dev/shm /tmp /run; do mount -t tmpfs tmpfs $d; done
bad=
while read -r m; do modprobe "$m" 2>/dev/null || bad="$bad $m"; done < /etc/kvmrun.modules
[ -n "$bad" ] && echo "kvm-run(guest): modules not loaded:$bad"
ip link set lo up
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
share=$(arg kvmrun_share)
if [ -n "$share" ]; then
  modprobe -a virtio_pci 9pnet_virtio 9p && mkdir -p "$share" &&
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 kvmrun0 "$share" ||
  echo "kvm-run(guest): 9p mount of $share failed"
fi
cd /test && /bin/sh /test/run.sh; rc=$?
sync
echo "KVMRUN-RESULT $(arg kvmrun_nonce) rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
EOF
  chmod +x "$ST/init"
  (cd "$ST" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$TMP/base.cpio.gz"
  mv "$TMP/base.cpio.gz" "$BASE"
fi

# --- 3. per-run overlay (a second cpio appended to the base): the program, its
#        libraries, the -f files, and run.sh holding the quoted arguments
OV=$TMP/ov; mkdir -p "$OV/test"
NAME=$(basename "$PROG")
copy_elf "$PROG" "/test/$NAME" "$OV"
for f in "${FILES[@]}"; do   # files go with their libraries (when ELF), folders as they are
  if [ -d "$f" ]; then cp -rL "$f" "$OV/test/"; else copy_elf "$f" "/test/$(basename "$f")" "$OV"; fi
done
for p in "${PATHS[@]}"; do   # at the same place, ELF files with their libraries
  [ -e "$p" ] || { log "-p $p: no such file"; exit 2; }
  while read -r f; do copy_elf "$f" "$f" "$OV"; done < <(find "$p" -type f -o -type l)
done
sq() { printf "'%s' " "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
{ printf 'exec '; sq "./$NAME"; for a in "$@"; do sq "$a"; done; echo; } > "$OV/test/run.sh"
(cd "$OV" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$TMP/ov.cpio.gz"
cat "$BASE" "$TMP/ov.cpio.gz" > "$TMP/initrd"

# --- 4. boot. -nodefaults: no NIC at all, so nothing the guest sends can leave it.
# KVM only with hardware virtualization (kvm_intel/kvm_amd): a PVM /dev/kvm
# (module kvm_pvm, on this workplace's machines) runs a stock kernel by emulation.
ACCEL=${KVMRUN_ACCEL:-}
if [ -z "$ACCEL" ]; then
  ACCEL=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
     { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; fi
fi
if [ "$ACCEL" = kvm ]; then QACC=(-enable-kvm -cpu "${KVMRUN_CPU:-host}")
else QACC=(-accel tcg -cpu "${KVMRUN_CPU:-max}"); fi
NONCE=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
APPEND="console=ttyS0 quiet panic=-1 cryptomgr.notests=1 ${KVMRUN_APPEND:-} kvmrun_nonce=$NONCE"
QSHARE=()
if [ -n "$SHARE" ]; then
  QSHARE=(-virtfs "local,path=$SHARE,mount_tag=kvmrun0,security_model=none")
  APPEND="$APPEND kvmrun_share=$SHARE"
fi
START=$(date +%s.%N)
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${QACC[@]}" -m "$MEM" -smp "$CPUS" \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$KERNEL" -initrd "$TMP/initrd" -append "$APPEND" "${QSHARE[@]}" \
  < /dev/null 2>&1 | tr -d '\r' | tee "$TMP/console.log" |
  grep -v -e "^KVMRUN-RESULT $NONCE " -e '^\[ *[0-9.]*\] reboot: Power down$'
QRC=${PIPESTATUS[0]}
set -e
WALL=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
RES=$(sed -n "s/^KVMRUN-RESULT $NONCE rc=\([0-9]*\) uptime=\([0-9.]*\)$/\1 \2/p" \
      "$TMP/console.log" | tail -1)
if [ -n "$RES" ]; then
  log "$NAME exited ${RES% *} ($ACCEL; guest uptime ${RES#* } s, qemu wall $WALL s)"
  exit "${RES% *}"
fi
if [ "$QRC" = 124 ]; then log "timed out after $TIMEOUT s"; exit 124; fi
log "guest ended without a result (qemu exit $QRC)"; exit 125
