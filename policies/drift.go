package policies

import "github.com/sealenv/sealenv/seal"

// KeyChange is one key on which a bundle and its environment disagree.
type KeyChange struct {
	Key   seal.MasterKey
	Owner string // the policy's label of a key to add
}

// Drift is how a bundle's keys differ from its environment's: the policy
// is the whole list of who may decrypt, so every key it does not list is
// to be removed, and every key it lists and the bundle lacks to be added.
type Drift struct {
	Add    []KeyChange
	Remove []KeyChange
	// Groups is set when the key groups or the Shamir threshold differ.
	Groups bool
	// HaveGroups and HaveThreshold are the bundle's; WantGroups and
	// WantThreshold the policy's (0 groups: one list of keys).
	HaveGroups, HaveThreshold, WantGroups, WantThreshold int
}

// Drift compares the keys of a bundle (as [seal.Inspect] reads them, no
// identity needed) with the environment's, group by group.
func (e *Environment) Drift(info *seal.Info) Drift {
	d := Drift{HaveGroups: info.KeyGroups, HaveThreshold: info.ShamirThreshold, WantGroups: len(e.KeyGroups), WantThreshold: e.Threshold()}
	if d.HaveGroups > 0 && d.HaveThreshold == 0 {
		d.HaveThreshold = d.HaveGroups // sops's default
	}
	d.Groups = d.HaveGroups != d.WantGroups || d.HaveThreshold != d.WantThreshold
	groups := len(e.groups)
	if info.KeyGroups > groups {
		groups = info.KeyGroups
	}
	for g := 0; g < groups; g++ {
		var want []Recipient
		if g < len(e.groups) {
			want = e.groups[g]
		}
		var have []seal.MasterKey
		for _, k := range info.MasterKeys {
			if k.Group == g {
				have = append(have, k)
			}
		}
		for _, r := range want {
			found := false
			for _, k := range have {
				found = found || k.Matches(r.master)
			}
			if !found {
				d.Add = append(d.Add, KeyChange{Key: r.master, Owner: r.Owner})
			}
		}
		for _, k := range have {
			listed := false
			for _, r := range want {
				listed = listed || k.Matches(r.master)
			}
			if !listed {
				d.Remove = append(d.Remove, KeyChange{Key: k})
			}
		}
	}
	for _, k := range info.MasterKeys {
		if k.Group == seal.OutsideGroups {
			d.Remove = append(d.Remove, KeyChange{Key: k})
		}
	}
	return d
}
