#!/bin/sh
# make-oci-archive.sh ROOTFS OUT.tar NAME: pack a rootfs directory as a
# one-layer OCI image layout tarball named NAME (io.containerd.image.name),
# for `ctr images import` (podman load reads it too).
set -eu
rootfs=$1 out=$2 name=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-oci.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

blob() { # blob FILE -> prints "digest size", stores it under blobs/
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$work/blobs/sha256/$d"
  echo "$d $s"
}

tar --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
set -- $(blob "$work/layer.tar"); layer=$1 layer_size=$2

printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$layer" > "$work/config.json"
set -- $(blob "$work/config.json"); config=$1 config_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
set -- $(blob "$work/manifest.json"); manifest=$1 manifest_size=$2

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest" "$manifest_size" "$name" > "$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
tar -C "$work" -cf "$out" oci-layout index.json blobs
