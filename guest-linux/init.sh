#!/bin/busybox sh
# The guest's /init: mounts what the workload reads, finds the passed-through device,
# makes Linux's SMMUv3 driver attach domains and invalidate through the VCMDQs, prints
# what it saw as "cmdqv-guest:" lines (the host reads them), and powers off.
# Parameters come from the kernel command line: cmdqv.switches=N (domain type switches),
# cmdqv.bench_seconds=N (0 skips the DMA map benchmark).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
say() { echo "cmdqv-guest: $*"; }
arg() { # arg NAME DEFAULT: the value of cmdqv.NAME= on the kernel command line
  v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^cmdqv\.$1=//p" | tail -n 1)
  echo "${v:-$2}"
}
finish() {
  say "done status=$1"
  sync
  poweroff -f
}
say "userspace uptime=$(cut -d' ' -f1 /proc/uptime)"
dev=""
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat "$d/vendor")" = "0x1b36" ] && [ "$(cat "$d/device")" = "0x0005" ]; then dev=$d; fi
done
if [ -z "$dev" ]; then
  say "error no passed-through device (1b36:0005) on the PCI bus"
  finish 1
fi
bdf=$(basename "$dev")
if [ ! -e "$dev/iommu_group" ]; then
  say "error $bdf has no IOMMU group: the SMMUv3 driver did not take it"
  finish 1
fi
group=$(basename "$(readlink "$dev/iommu_group")")
say "device bdf=$bdf group=$group type=$(cat "/sys/kernel/iommu_groups/$group/type")"
switches=$(arg switches 4)
i=0
t0=$(cut -d' ' -f1 /proc/uptime)
while [ "$i" -lt "$switches" ]; do
  for t in identity DMA; do
    if ! echo "$t" > "/sys/kernel/iommu_groups/$group/type" 2>/dev/null; then
      say "error cannot set group $group type to $t"
      finish 1
    fi
  done
  i=$((i + 1))
done
say "switches count=$switches from=$t0 to=$(cut -d' ' -f1 /proc/uptime) type=$(cat "/sys/kernel/iommu_groups/$group/type")"
seconds=$(arg bench_seconds 2)
if [ "$seconds" -gt 0 ]; then
  echo dma_map_benchmark > "$dev/driver_override"
  echo "$bdf" > /sys/bus/pci/drivers_probe
  if [ "$(basename "$(readlink "$dev/driver")")" != "dma_map_benchmark" ]; then
    say "error dma_map_benchmark did not bind to $bdf"
    finish 1
  fi
  t0=$(cut -d' ' -f1 /proc/uptime)
  say "bench start uptime=$t0"
  /bin/dma-bench "$seconds" 1 || finish 1
  say "bench end uptime=$(cut -d' ' -f1 /proc/uptime)"
  echo "$bdf" > "$dev/driver/unbind"
fi
finish 0
