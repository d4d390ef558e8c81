#!/bin/bash
# Mounts the data volume DEVICE at MOUNTPOINT and records it in fstab.
#
# It formats the device ONLY when it holds no filesystem: blkid finds no
# signature AND the first MiB reads as zeros, as on a new EBS volume. Anything
# else that is not a filesystem (a partition table, unknown bytes, a read error)
# stops the script without writing, so existing data is never reformatted.
#
# usage: mount-data-volume DEVICE MOUNTPOINT
#   DEVICE      a stable path, e.g. /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123...
#               (a filesystem image file works too: mount sets up a loop device)
# environment:
#   FSTAB         fstab to record the mount in (default /etc/fstab)
#   WAIT_SECONDS  how long to wait for DEVICE to appear (default 600): the volume
#                 is attached after the instance has started
#   FS_LABEL      label of a new filesystem (default data)
set -euo pipefail

die() {
	echo "mount-data-volume: error: $*" >&2
	exit 1
}

if [[ $# -ne 2 ]]; then
	echo "usage: mount-data-volume DEVICE MOUNTPOINT" >&2
	exit 64
fi
device=$1
mount_point=$2
fstab=${FSTAB:-/etc/fstab}
wait_seconds=${WAIT_SECONDS:-600}
label=${FS_LABEL:-data}

[[ $mount_point == /* ]] || die "MOUNTPOINT must be an absolute path, got '$mount_point'"

waited=0
while [[ ! -e $device ]]; do
	if ((waited >= wait_seconds)); then
		die "$device did not appear within ${wait_seconds}s; check that the volume is attached to this instance"
	fi
	sleep 2
	waited=$((waited + 2))
done

existing=$(awk -v mp="$mount_point" '$1 !~ /^#/ && $2 == mp { print $1 }' "$fstab" 2>/dev/null || true)
if [[ -n $existing && $existing != "$device" ]]; then
	die "$fstab already mounts $existing at $mount_point; remove that line or choose another mount point"
fi

# blkid exits 0 with the type when it finds a filesystem, 2 when it finds none.
status=0
fs_type=$(blkid -p -o value -s TYPE "$device") || status=$?
if [[ $status -eq 2 ]]; then
	if ! cmp -s -n 1048576 "$device" /dev/zero; then
		die "$device has no filesystem but its first MiB is not empty; refusing to format it (inspect it with wipefs -n)"
	fi
	echo "mount-data-volume: $device is empty: creating an ext4 filesystem"
	mkfs.ext4 -q -F -m 1 -L "$label" "$device"
	fs_type=ext4
elif [[ $status -ne 0 ]]; then
	die "blkid could not read $device (exit $status); refusing to touch it"
elif [[ -z $fs_type ]]; then
	die "$device carries a signature that is not a filesystem (a partition table?); refusing to format it"
else
	echo "mount-data-volume: $device already holds a $fs_type filesystem: keeping its data"
fi

mkdir -p "$mount_point"
if [[ -z $existing ]]; then
	# nofail: a missing volume must not stop the boot (SSM stays reachable to repair
	# it); Docker requires this mount (RequiresMountsFor), so no container starts without it.
	printf '%s %s %s defaults,nofail,x-systemd.device-timeout=120s 0 2\n' "$device" "$mount_point" "$fs_type" >>"$fstab"
fi

if mountpoint -q "$mount_point"; then
	echo "mount-data-volume: $mount_point is already mounted"
else
	mount --fstab "$fstab" "$mount_point"
	echo "mount-data-volume: mounted $device at $mount_point"
fi
