package challenge_test

import (
	"context"
	"fmt"
	"net/smtp"
	"time"

	"github.com/atoguard/ato/challenge"
)

// A code is stored only as its hash, bound to its challenge; what the person
// types is checked against that hash.
func ExampleCodeMatches() {
	key := []byte("a secret key of at least 32 bytes")
	hash := challenge.HashCode(key, "ch_1", "042817") // the code came from NewCode

	fmt.Println(challenge.CodeMatches(key, "ch_1", "042 817", hash))
	fmt.Println(challenge.CodeMatches(key, "ch_1", "042-818", hash))
	fmt.Println(challenge.CodeMatches(key, "ch_2", "042817", hash))
	// Output:
	// true
	// false
	// false
}

// In tests and demos an Outbox stands in for email and SMS.
func ExampleOutbox() {
	outbox := challenge.NewOutbox()
	var sender challenge.Sender = outbox

	sender.Send(context.Background(), challenge.Message{
		ChallengeID: "ch_1", Channel: challenge.Email, To: "alice@example.com", Code: "042817",
	})

	m, ok := outbox.Last("ch_1")
	fmt.Println(ok, m.To, m.Code)
	// Output: true alice@example.com 042817
}

// VerifyTOTP returns the step it accepted; passing it back refuses the same
// code a second time.
func ExampleVerifyTOTP() {
	// The RFC 6238 test secret, "12345678901234567890" in base32.
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	at := time.Unix(1111111109, 0)

	step, ok := challenge.VerifyTOTP(secret, "081 804", at, 0)
	fmt.Println(step, ok)
	_, ok = challenge.VerifyTOTP(secret, "081804", at, step)
	fmt.Println(ok)
	// Output:
	// 37037036 true
	// false
}

// An SMTPSender serves the email channel only.
func ExampleSMTPSender() {
	sender := &challenge.SMTPSender{
		Addr: "smtp.example.com:587",
		From: "Example <no-reply@example.com>",
		Auth: smtp.PlainAuth("", "no-reply@example.com", "password", "smtp.example.com"),
	}
	err := sender.Send(context.Background(), challenge.Message{Channel: challenge.SMS, To: "+15550100", Code: "042817"})
	fmt.Println(err)
	// Output: challenge: unsupported channel "sms": SMTPSender sends only "email"
}
