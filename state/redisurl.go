package state

// CheckRedisURL parses a REDIS_URL as the Redis store would, without
// connecting, so that a bad URL is reported with the rest of the
// configuration. Its error never shows a password.
func CheckRedisURL(raw string) error {
	_, _, _, err := newRedisClient(raw, false)
	return err
}
