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
// The invariant: every byte of every blob the image references is searched
// at least once as stored and once decompressed; structure only adds. Each
// distinct layer is read once, by a pool of workers, as one stream searched
// end to end (tar headers, padding and anything after the end-of-archive
// marker included); a compressed layer is searched as stored too, while a
// second goroutine decompresses it. A tar walk beside the search places
// each match by its offset (the entry's path and the part of it: data,
// name, linkname, pax, xattr, header, padding, trailer), records whiteouts
// and opaque directories (a finding in a file a later layer deletes names
// that layer: the file is still in the image), and opens what is
// compressed or archived inside (gzip, zstd, bzip2, xz, tar, zip, jar),
// whose content is searched as a stream of its own, to a bounded depth.
// Nothing is extracted; memory per worker is fixed whatever the image
// size. Anything not proven searched (a limit reached, structure that does
// not parse, an unverifiable digest, a read error, two views of an archive)
// makes the coverage incomplete, never clean; every loop honours
// cancellation.
//
// # Detectors
//
// Known values: every sealed value of at least [MinValueLen] bytes, raw,
// hex, base64 (standard and URL alphabets, at every alignment, and wrapped
// at 64 or 76 columns), URL-, JSON- and HTML-escaped and UTF-16, all
// searched in one pass. Rules: the versioned
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
