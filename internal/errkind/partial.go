package errkind

import "errors"

// partial marks a result that is usable but incomplete. It is no Kind: the
// work done is recorded and nothing failed, so retry loops must not see it;
// only the CLI reads it, to exit with "finished, work pending".
type partial struct{ err error }

func (p *partial) Error() string { return p.err.Error() }
func (p *partial) Unwrap() error { return p.err }

// Partial marks err as "finished, but some work is still pending: run the
// same command again later to continue".
func Partial(err error) error {
	if err == nil {
		return nil
	}
	return &partial{err: err}
}

// IsPartial reports whether err, through any wrapping, says that work is
// pending.
func IsPartial(err error) bool {
	var p *partial
	return errors.As(err, &p)
}
