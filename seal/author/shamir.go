package author

import (
	"fmt"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"

	"github.com/sealenv/sealenv/seal"
)

// shamirError says why a bundle whose data key is split into key groups
// did not open: how many groups it needs of how many, and which of them
// the identities open (by their age keys; a group of KMS or PGP keys is
// counted when sops opened it, which the error cannot tell), with the way
// forward. err is sops's error, kept only when no group count explains it.
func shamirError(md *sops.Metadata, ids []age.Identity, err error) error {
	groups := len(md.KeyGroups)
	need := md.ShamirThreshold
	if need <= 0 || need > groups {
		need = groups
	}
	var opened []string
	for g, keys := range md.KeyGroups {
		for _, k := range keys {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok || len(ids) == 0 {
				continue
			}
			probe := *ak // the file's key stays as it was
			sopsage.ParsedIdentities(ids).ApplyToMasterKey(&probe)
			if share, err := probe.Decrypt(); err == nil && len(share) > 0 {
				clear(share)
				opened = append(opened, strconv.Itoa(g+1))
				break
			}
		}
	}
	if len(opened) >= need {
		return fmt.Errorf("%w: %s", seal.ErrIncorrectIdentity, firstLine(err))
	}
	which := "none of them"
	switch len(opened) {
	case 0:
	case 1:
		which = "1 (group " + opened[0] + ")"
	default:
		which = fmt.Sprintf("%d (groups %s)", len(opened), strings.Join(opened, ", "))
	}
	return fmt.Errorf("%w: needs %d of %d key groups (Shamir), and these identities open %s: give keys of %d groups at once (one identity file may hold several keys), or ask the holders of the other groups' keys", seal.ErrIncorrectIdentity, need, groups, which, need)
}
