#!/usr/bin/env bash
# Writes the hybrid ISO (images/denali.iso) to a USB stick: `make usb DEV=/dev/sdX`.
#
# It writes only after every check passed:
#   1. DEV is a block device and a whole disk (/sys/block/NAME exists), not a partition;
#   2. the disk is removable (/sys/block/NAME/removable is 1);
#   3. neither the disk nor any of its partitions is mounted (/proc/mounts) or used as swap (/proc/swaps);
#   4. the user typed the device name back at a terminal; without a terminal it refuses unless YES=1
#      (for scripts that have done their own checking).
# Then: dd with a progress display, fsync, sync, and a read-back comparison with the ISO.
#
# Environment:
#   DEV=/dev/sdX     the stick (or the first argument)
#   ISO=FILE         the image to write (default images/denali.iso, built or rebuilt when missing or
#                    older than the kernel or compiler sources)
#   YES=1            skip the typed confirmation (the other checks still apply)
#   DENALI_SYSFS=DIR, DENALI_PROCFS=DIR   roots used instead of /sys and /proc (tests use fakes)
# Exit status: 0 written, 1 refused or failed, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSFS=${DENALI_SYSFS:-/sys}
PROCFS=${DENALI_PROCFS:-/proc}
DEV=${DEV:-${1:-}}

refuse() { echo "usb: refusing: $*" >&2; echo "usb: nothing was written" >&2; exit 1; }

if [ -z "$DEV" ]; then
  echo "usage: make usb DEV=/dev/sdX   (or: tools/usb.sh /dev/sdX)" >&2
  echo "  lsblk -d -o NAME,SIZE,RM,TRAN,MODEL lists the disks; RM=1 are removable" >&2
  exit 2
fi

# ---- 1. a whole block device --------------------------------------------------------------------------
[ -e "$DEV" ] || refuse "$DEV does not exist"
[ -b "$DEV" ] || refuse "$DEV is not a block device (give the stick's device, e.g. /dev/sdb)"
real=$(readlink -f -- "$DEV")
name=$(basename -- "$real")
if [ -e "$SYSFS/class/block/$name/partition" ]; then
  disk=$(basename -- "$(dirname -- "$(readlink -f -- "$SYSFS/class/block/$name")")")
  [ -d "$SYSFS/block/$disk" ] || disk=
  refuse "$DEV is a partition; give the whole disk${disk:+ (/dev/$disk)}"
fi
[ -d "$SYSFS/block/$name" ] || refuse "$DEV ($name) is not a whole disk: $SYSFS/block/$name does not exist"

# ---- 2. removable -------------------------------------------------------------------------------------
removable=$(cat "$SYSFS/block/$name/removable" 2>/dev/null || echo "?")
[ "$removable" = 1 ] || refuse "$DEV is not removable ($SYSFS/block/$name/removable is $removable); this writes only to USB sticks and other removable disks"

# ---- 3. not mounted, not swap -------------------------------------------------------------------------
# The disk and its partitions (/sys/block/NAME/NAMEp* or NAME1...: every subdirectory with a `partition` file).
parts=("$name")
for p in "$SYSFS/block/$name"/*/; do
  [ -e "$p/partition" ] && parts+=("$(basename -- "$p")")
done
in_use() {   # $1: a source path from /proc/mounts or /proc/swaps
  local src=$1 base
  case "$src" in /dev/*) ;; *) return 1 ;; esac
  base=$(basename -- "$(readlink -f -- "$src" 2>/dev/null || echo "$src")")
  for p in "${parts[@]}"; do [ "$base" = "$p" ] && return 0; done
  return 1
}
[ -r "$PROCFS/mounts" ] || refuse "cannot read $PROCFS/mounts to check that $DEV is not mounted"
while read -r src target _; do
  # /proc/mounts escapes spaces as \040.
  if in_use "$src"; then refuse "$src is mounted on ${target//\\040/ } (umount it first)"; fi
done < "$PROCFS/mounts"
if [ -r "$PROCFS/swaps" ]; then
  while read -r src _; do
    if in_use "$src"; then refuse "$src is in use as swap (swapoff it first)"; fi
  done < <(tail -n +2 "$PROCFS/swaps")
fi

# ---- the image ----------------------------------------------------------------------------------------
if [ -z "${ISO:-}" ]; then
  ISO=images/denali.iso
  if [ ! -f "$ISO" ] || [ -n "$(find kernel-src compiler tools/build.ts -newer "$ISO" -name '*.ts' -print -quit)" ]; then
    echo "usb: building $ISO"
    node tools/denali.mjs build
  fi
fi
[ -f "$ISO" ] || refuse "no image: $ISO does not exist"
iso_bytes=$(stat -c %s -- "$ISO")
sectors=$(cat "$SYSFS/block/$name/size" 2>/dev/null || echo 0)
dev_bytes=$((sectors * 512))
if [ "$dev_bytes" -gt 0 ] && [ "$dev_bytes" -lt "$iso_bytes" ]; then
  refuse "$DEV holds $dev_bytes bytes, the image needs $iso_bytes"
fi

# ---- 4. confirmation ----------------------------------------------------------------------------------
vendor=$(cat "$SYSFS/block/$name/device/vendor" 2>/dev/null | xargs || true)
model=$(cat "$SYSFS/block/$name/device/model" 2>/dev/null | xargs || true)
echo "usb: $DEV ($name): ${vendor:+$vendor }${model:-unknown model}, $((dev_bytes / 1000000)) MB, removable, not mounted"
echo "usb: writing $ISO ($iso_bytes bytes) will DESTROY everything on $DEV"
if [ "${YES:-}" = 1 ]; then
  echo "usb: YES=1: not asking"
elif [ -t 0 ]; then
  read -r -p "usb: type the device name ($name) to write, anything else to stop: " answer || answer=
  if [ "$answer" != "$name" ] && [ "$answer" != "$DEV" ]; then refuse "not confirmed (typed '$answer')"; fi
else
  refuse "no terminal to confirm on; run it from a terminal, or pass YES=1 if a script has checked the device"
fi

# ---- write --------------------------------------------------------------------------------------------
echo "usb: dd if=$ISO of=$DEV bs=4M conv=fsync status=progress"
dd if="$ISO" of="$DEV" bs=4M conv=fsync status=progress
sync
if ! cmp -n "$iso_bytes" -- "$ISO" "$DEV"; then
  echo "usb: the read-back differs from $ISO: the stick may be faulty" >&2
  exit 1
fi
echo "usb: wrote and verified $iso_bytes bytes on $DEV; boot a PC from it (docs/hardware.md)"
