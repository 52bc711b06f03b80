// Package match finds and replaces secret values in bytes: the one matcher
// of the audit (which searches images), of the build (which redacts
// BuildKit's progress) and of the injector (which redacts the app's
// output).
//
// It imports the standard library only, and neither net/url nor html (it
// writes out the two escapes it takes from them), because the injector
// imports it: the injector links nothing under audit/ and must stay within
// its size budget. What needs more (the rules' regular expressions, the
// places of matches in archives) stays with the audit, behind the
// [Confirmer] interface and the [Sink] of a stream.
//
// # Forms
//
// [Forms] lists every form of a value that programs write: raw, hex,
// base64 (standard and URL alphabets, at every alignment, and wrapped at
// 64 or 76 columns), the URL-, form-, JSON- and HTML-escapes of the
// mainstream languages' standard libraries, and UTF-16. Values shorter
// than [MinLen] bytes are not searched: they would match by chance.
//
// # Searching
//
// A [Matcher] is compiled once from the values and the rules' keywords
// ([Keyword]); each goroutine searches with its own [Scanner], a whole
// string ([Scanner.Bytes], [Scanner.Replace]) or a stream written to it in
// pieces ([Scanner.Start]), whose hits go to a [Sink]. Two sampled bit
// tables decide where anything can start, in one pass: 4-grams of the
// known values every fourth byte, two-byte grams of the keywords every
// second byte; only their hits are verified, a keyword's by its rule's
// [Confirmer]. A [Hit] never holds the value: its [Preview] shows at most
// an eighth of the match and never more than four bytes.
//
// # Redacting
//
// A [Redactor] replaces values in text with "[REDACTED:NAME]", streaming
// ([Redactor.Writer]), leftmost-longest: every form ([NewRedactor], for
// the build's logs) or the values as they are ([NewRawRedactor], for the
// injector: every form of a hundred values is thousands of patterns, which
// would bring the injector's redaction below its 1 GB/s target).
package match
