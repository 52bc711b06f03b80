package seal

// Plaintext lists the names of the non-empty values the file stores
// unencrypted because its sops rules say so (unencrypted_suffix,
// unencrypted_regex, or a value that encrypted_suffix or encrypted_regex
// does not match), in file order. A value typed in unencrypted where the
// rules encrypt is not among them: [UnsealedValues] reports those.
func (i *Info) Plaintext() []string {
	var out []string
	for j, k := range i.Keys {
		if j < len(i.Encrypted) && j < len(i.Empty) && !i.Encrypted[j] && !i.Empty[j] {
			out = append(out, k)
		}
	}
	return out
}
