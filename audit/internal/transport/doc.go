// Package transport is how the audit reads an image: each transport
// (docker-archive:, oci-archive:, oci:, docker-daemon:, docker://, and an
// image or index go-containerregistry holds) is an unexported [Store]
// that serves the root document and raw blobs, nothing more; walking
// indexes, platforms, attestations and layers is the audit's, shared.
//
// The audit reads transports itself rather than through package imageref
// (which opens images as go-containerregistry values for wrap, build and
// attest) because it must prove what it read: every blob is checked
// against its descriptor's size and digest as it streams ([Verify]; an
// unknown algorithm fails at once), a docker-archive is read in place by
// offset with both of its views (manifest.json and an OCI index.json) and
// fails on a name held twice, an oci-archive is never unpacked to disk,
// and blobs of artifacts that are not images are served as well.
// References are still parsed by imageref, and docker-daemon: is saved
// through imageref.SaveDaemon.
package transport
