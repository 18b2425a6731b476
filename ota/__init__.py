"""Firmware images and OTA adapters (issue 12, docs/firmware.md section 12.1): the `BlobStore`
port (`ota.port`), its local-directory and S3 adapters (`ota.local_blobs`, `ota.s3`), HTTP byte
ranges (`ota.ranges`) and the factory the composition root calls (`ota.wiring`)."""
