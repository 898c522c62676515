package config

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The administrator password rule: what CheckPasswordStrength demands of a
// password an operator chooses (the setup wizard, the API's password
// change, hafw hash-password).
const (
	MinPasswordLength = 10
	// MaxPasswordLength keeps a password typable on a serial console and
	// within the API's request bound.
	MaxPasswordLength = 128
)

// CheckPasswordStrength reports why password may not become the
// administrator password, or nil. The rule is stated once here so the
// wizard, the API and the command line cannot drift apart:
//   - at least MinPasswordLength and at most MaxPasswordLength characters;
//   - at least two kinds of character among lower case, upper case, digits
//     and others (punctuation, spaces, letters without case);
//   - its letters alone must not spell the user name (admin) or the word
//     password, whatever the case and the digits or signs around them;
//   - no control characters, and no space at either end: line-based input
//     (a script's stdin, a serial console) loses them or cannot carry them.
//
// It is a floor against the passwords guessed first, not a policy engine;
// the per-client throttle of the API bounds guessing beyond it.
func CheckPasswordStrength(password string) error {
	if !utf8.ValidString(password) {
		return errors.New("the password is not valid UTF-8 text")
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return fmt.Errorf("the password must have at least %d characters (this one has %d)", MinPasswordLength, n)
	case n > MaxPasswordLength:
		return fmt.Errorf("the password must have at most %d characters (this one has %d)", MaxPasswordLength, n)
	case strings.TrimSpace(password) != password:
		return errors.New("the password must not begin or end with a space")
	}
	var lower, upper, digit, other bool
	var letters strings.Builder
	for _, r := range password {
		switch {
		case unicode.IsControl(r):
			return errors.New("the password must not contain control characters (such as a tab)")
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
		if unicode.IsLetter(r) {
			letters.WriteRune(unicode.ToLower(r))
		}
	}
	kinds := 0
	for _, k := range []bool{lower, upper, digit, other} {
		if k {
			kinds++
		}
	}
	if kinds < 2 {
		return errors.New("the password must mix at least two kinds of character: lower case, upper case, digits, others")
	}
	if l := letters.String(); l == "admin" || l == "password" {
		return fmt.Errorf("the password must not be a variation of %q", l)
	}
	return nil
}

// pbkdf2Iterations follows OWASP's 2023 advice for PBKDF2-HMAC-SHA256.
const pbkdf2Iterations = 600000

// maxIterations bounds a stored hash's cost, so that a planted hash cannot
// make each check take minutes.
const maxIterations = 10_000_000

// HashPassword returns the stored form of an appliance password:
// "pbkdf2-sha256$<iterations>$<salt>$<key>" in unpadded base64.
func HashPassword(password string) (string, error) {
	return HashPasswordCost(password, pbkdf2Iterations)
}

// HashPasswordCost is HashPassword with another iteration count. The
// stored form carries its cost, and CheckPassword honours it: tests that
// boot appliances under emulation (no KVM: a 600k check takes tens of
// seconds there, minutes on a busy host) stage cheaper hashes with it.
func HashPasswordCost(password string, iterations int) (string, error) {
	if iterations < 1 || iterations > maxIterations {
		return "", fmt.Errorf("password hash cost %d: want 1 to %d iterations", iterations, maxIterations)
	}
	if len(password) < 8 {
		return "", errors.New("password must have at least 8 characters")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("derive password hash: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// IsPasswordHash reports whether s is a well-formed HashPassword result
// (the first-boot password key takes a hash as well as a password, so
// that the password itself need not be on the kernel command line).
func IsPasswordHash(s string) bool {
	_, _, _, err := parseHash(s)
	return err == nil
}

// parseHash splits a stored hash into its cost, salt and key.
func parseHash(stored string) (iter int, salt, key []byte, err error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return 0, nil, nil, errors.New("not a pbkdf2-sha256 hash")
	}
	iter, err = strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return 0, nil, nil, errors.New("bad iteration count")
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	key, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 {
		return 0, nil, nil, errors.New("bad salt or key")
	}
	return iter, salt, key, nil
}

// CheckPassword reports whether password matches a HashPassword result, in
// constant time with respect to the key.
func CheckPassword(stored, password string) bool {
	iter, salt, want, err := parseHash(stored)
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}
