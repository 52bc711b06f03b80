// Package testutil groups the helpers that tests share: its packages make
// keys, bundles, signatures and small repositories at test time.
//
//   - cosigntest: signing keys in the formats cosign reads
//   - injecttest: real sealed bundles for the injector's tests
//   - policytest: small repositories for the tests of the policy
//   - signtest: SSH signing keys, signatures and allowed signers files
//   - sopstest: changes to the metadata of SOPS files
//
// Only test files import them: [TestFence] fails when a non-test file of
// any other package does, so that no binary links a helper that writes
// keys to temporary folders.
package testutil
