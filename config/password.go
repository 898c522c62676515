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
)

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
