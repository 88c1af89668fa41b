package report

// Alerts is the report's account of alert delivery.
type Alerts struct {
	Delivered int                       `json:"delivered"`
	Pending   int                       `json:"pending"`
	Dropped   int                       `json:"dropped"`
	Providers map[string]*ProviderTally `json:"providers,omitempty"`
}

type ProviderTally struct {
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"`
	Dropped   int `json:"dropped"`
}

func (a *Alerts) Tally(provider string) *ProviderTally {
	if a.Providers == nil {
		a.Providers = map[string]*ProviderTally{}
	}
	if a.Providers[provider] == nil {
		a.Providers[provider] = &ProviderTally{}
	}
	return a.Providers[provider]
}
