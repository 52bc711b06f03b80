// Package bundlefile is a sealed bundle as a file of a repository, and the
// one way every command and every fleet operation writes one.
//
// # The write path
//
// [Edit] changes one bundle, [Create] writes a new one, [Sign] signs one as
// it is, and [EditAll] changes the bundles of several environments of a
// policy as one journaled change (rekey --all, rotate --due). Each runs the
// same sequence, whose order is part of the protection:
//
//  1. recover: an interrupted fleet write in the policy's directory or the
//     bundle's repository is finished or rolled back ([Recover]);
//  2. resolve: symlinks are followed, and a bundle that a symlink takes out
//     of its repository ([Root]) is refused;
//  3. find the signing key, before anything changes: a key that cannot
//     sign stops the write;
//  4. lock the bundle (or every bundle), waiting for another writer;
//  5. load it with the identities;
//  6. change it (the caller's function, given a [Draft]);
//  7. before marshal: the checks and changes of every write, with the
//     policy's environment at hand ([Draft.Check]);
//  8. marshal, sign (or drop a signature that would no longer match);
//  9. write atomically, or through the journal for [EditAll].
//
// # Errors and messages
//
// Errors speak in the bundle's terms: a path, a key name, a policy setting.
// The command adds its flags; typed errors ([SettingError],
// [RefusedNameError], [SignatureError], [ErrNoSigningKey]) say what it can
// add to. What a person should hear beside an error (a journal recovered,
// a bundle signed, a signature removed) goes to [Options.Tell] as an
// [Event]; the package never prints.
package bundlefile
