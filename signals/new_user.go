package signals

import (
	"context"
	"strconv"
)

// NewUserReason: the engine has no history for the user.
const NewUserReason Reason = "new_user"

// NewUserScore is the score of a new_user finding: a first login is not
// risky in itself.
const NewUserScore = 0.05

// NewUser reports new_user when the engine has learnt nothing about the
// user yet (see [Input.NewUser]). The other new_* signals stay silent then:
// everything is new for a new user.
func NewUser() Signal { return newUser{} }

type newUser struct{}

func (newUser) Name() string { return string(NewUserReason) }

func (newUser) Reasons() []ReasonInfo {
	return []ReasonInfo{{NewUserReason, NewUserScore, "the engine has no history for the user"}}
}

func (newUser) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if !in.NewUser() {
		return nil, nil
	}
	return []Finding{{
		Reason: NewUserReason,
		Score:  NewUserScore,
		Detail: "first login of user " + strconv.Quote(in.User),
		Evidence: map[string]string{
			"user": in.User,
		},
	}}, nil
}

func (newUser) summary(*Finding) string { return "first login of the user" }
