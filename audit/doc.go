// Package audit proves that no plaintext secret is in a container image:
// not in any layer (files a later layer deletes included), its config, its
// build history, its annotations, its attestations, or its Dockerfile.
//
// # Sources
//
// [Image] reads a transport-prefixed reference in the skopeo/podman
// convention: docker-archive:FILE, oci-archive:FILE, oci:DIR[:TAG],
// docker-daemon:REF (saved through the Docker or Podman API socket into a
// temporary file) and docker://REF (a registry, with the docker config and
// credential helpers). A bare path is recognised by content. Every
// transport implements one narrow store (root, manifest, blob); walking
// indexes, platforms and attestations is shared. A multi-platform index
// audits every platform.
//
// # Layers
//
// Each distinct layer is read once, as a stream, by a pool of workers:
// compression (gzip, zstd or none) is told by content, tar entries are
// searched as they pass, nothing is extracted, and memory per worker is a
// fixed buffer whatever the image size. Whiteouts and opaque directories
// are recorded, so a finding in a file that a later layer deletes names
// that layer too: the file is still in the image. Archives inside layers
// (tar, gzip, zstd, zip and jar) are opened to a bounded depth. A blob is
// checked against its digest (or diff ID) as it streams; an unreadable,
// truncated or unknown-compression layer makes the coverage incomplete,
// never clean.
//
// # Detectors
//
// Known values: every sealed value of at least [MinValueLen] bytes, raw,
// hex, base64 (standard and URL alphabets, at every alignment), URL- and
// JSON-escaped and UTF-16, all searched in one pass. Rules: the versioned
// rule set of package rules, each gated by keywords. Plaintext bundles:
// files named like secrets files that carry no SOPS metadata. Two sampled
// bit tables decide where anything can start, in one pass: 4-grams of the
// known values every fourth byte, two-byte grams of the keywords every
// second byte; only their hits are verified.
//
// # Findings
//
// A [Finding] says what and where, never the value: its preview shows at
// most an eighth of the match and never more than four bytes. Reports are
// written as text, JSON or SARIF 2.1.0.
package audit
