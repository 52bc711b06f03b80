package fsutil

import "github.com/sealenv/sealenv/internal/fserr"

// Reason is [fserr.Reason], for callers that use fsutil already: it drops
// the operation and path of an *fs.PathError. Packages the injector links
// import fserr instead.
func Reason(err error) error { return fserr.Reason(err) }
