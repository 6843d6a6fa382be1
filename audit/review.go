package audit

// What an access review ([AccessReviewed]) writes. They sit apart from
// details.go only so that the review's keys stay together.
const (
	// TargetAccessReview is the access review itself: the target of
	// [AccessReviewed], and of a refused read of the review. ID is empty.
	TargetAccessReview = "access_review"

	// DetailNote is what the reviewer wrote (string, possibly empty), on
	// [AccessReviewed].
	DetailNote = "note"
	// DetailFindings counts the review's findings by kind
	// (map[string]int, a kind with none left out), and DetailUsers the
	// accounts reviewed (int), on [AccessReviewed].
	DetailFindings = "findings"
	DetailUsers    = "users"
)
