// Package decode holds the audit's pure format readers: decoders it
// writes itself (LZ4, Unix compress, the x86 branch filter of 7-Zip),
// UTF-16 text, and what headers say before anything is allocated (the
// window a zstd or brotli stream asks for, the dictionary of every block
// of an xz stream, where an executable ends, where a zip's entries
// start). Each reads bytes and returns bytes or numbers, with fixed
// memory; none knows about findings, streams or places: the audit's
// walker (package audit) wires them into its walk.
package decode
