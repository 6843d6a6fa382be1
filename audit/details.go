package audit

// The keys of Event.Details that usher writes, so a host can filter and
// render them without copying strings. Each names the actions that carry
// it and its value's type as written (see [Event.Details] for how a store
// returns numbers and lists). A host's own events may use other keys.
// The details of [AuditExported].
const (
	// DetailFormat is the export's Format (string).
	DetailFormat = "format"
	// DetailCount is how many events the export wrote (int64).
	DetailCount = "count"
	// DetailSince and DetailUntil are the range exported (time.Time),
	// each when the range had one.
	DetailSince = "since"
	DetailUntil = "until"
)

const (
	// DetailBefore and DetailAfter hold, on [UserUpdated],
	// [ProfileUpdated] and [GroupUpdated], a map[string]any of the changed
	// fields before and after, under the keys below ([DetailName],
	// [DetailEmail], [DetailGroup], [DetailDescription],
	// [DetailPermissions], [DetailRequireTwoFactor]). On [AuditPruned],
	// DetailBefore is the cut-off time.Time instead: events older were
	// deleted.
	DetailBefore = "before"
	DetailAfter  = "after"

	// DetailName is a user's or group's name (string), on [SignUp],
	// [UserCreated], [UserDeleted], [GroupCreated], [GroupDeleted] and in
	// before and after.
	DetailName = "name"
	// DetailEmail is a user's email (string), on [SignUp], [UserCreated],
	// [UserDeleted] and in before and after.
	DetailEmail = "email"
	// DetailGroup is a group ID (string), on [SignUp], [UserCreated],
	// [UserDeleted] and in before and after of [UserUpdated].
	DetailGroup = "group"
	// DetailGroupName is the name of the group DetailGroup names (string),
	// on [UserCreated].
	DetailGroupName = "group_name"
	// DetailDescription is a group's description (string), in before and
	// after of [GroupUpdated].
	DetailDescription = "description"
	// DetailPermissions is a group's permissions ([]string), on
	// [GroupCreated], [GroupDeleted] and in before and after of
	// [GroupUpdated].
	DetailPermissions = "permissions"
	// DetailRequireTwoFactor is a group's RequireTwoFactor (bool), on
	// [GroupCreated] and in before and after of [GroupUpdated].
	DetailRequireTwoFactor = "require_two_factor"

	// DetailSessionsRevoked counts the user's sessions ended (int), on
	// [UserDisabled], [PasswordReset] and [TwoFactorReset].
	DetailSessionsRevoked = "sessions_revoked"
	// DetailOtherSessionsRevoked counts the actor's other sessions ended
	// (int), on [PasswordChanged] and on [ProfileUpdated] when the email
	// changed.
	DetailOtherSessionsRevoked = "other_sessions_revoked"
	// DetailUserID is the owner of the ended session (string), on
	// [SessionRevoked] for one session.
	DetailUserID = "user_id"
	// DetailRevoked counts the sessions ended (int) and DetailKept is the
	// session left alive (string), on [SessionRevoked] for all other
	// sessions.
	DetailRevoked = "revoked"
	DetailKept    = "kept"
	// DetailSessionID is the session a login opened (string), on
	// [LoginSucceeded]; on an event that carries DetailSessionReplaced, it
	// is the session that took the ended one's place.
	DetailSessionID = "session_id"
	// DetailRemembered is true on [LoginSucceeded] when the login asked
	// to be remembered, so the session has the longer limits.
	DetailRemembered = "remembered"
	// DetailSessionReplaced is the actor's session that the operation
	// ended (string), with DetailSessionID naming its replacement: the
	// actor re-authenticated or bound a new factor, so the session token
	// changed (OWASP ASVS 5.0 V7.2.4). On [PasswordChanged], [TOTPEnabled],
	// [TOTPDisabled], [RecoveryCodesRenewed], and [ProfileUpdated] when the
	// email changed.
	DetailSessionReplaced = "session_replaced"
	// DetailDevicesRevoked is true on [PasswordReset], [PasswordChanged],
	// [TwoFactorReset] and [DevicesRevoked]: the user's device tokens no
	// longer buy a throttling budget of their own.
	DetailDevicesRevoked = "devices_revoked"
	// DetailPasswordRehashed is true on [LoginSucceeded] when the stored
	// password hash was upgraded.
	DetailPasswordRehashed = "password_rehashed"

	// DetailMethod is the second factor used or tried (string): "totp" or
	// "recovery_code" on [LoginSucceeded] and [SecondFactorFailed] of a
	// two-step login, "enrollment" on [SecondFactorFailed] when confirming
	// a TOTP enrollment.
	DetailMethod = "method"
	// DetailConsecutiveFailures counts the account's failed attempts in a
	// row (int), on [LoginFailed] and [SecondFactorFailed].
	DetailConsecutiveFailures = "consecutive_failures"
	// DetailChallengeFailures counts the wrong codes given to one login
	// challenge (int), on [SecondFactorFailed].
	DetailChallengeFailures = "challenge_failures"
	// DetailRecoveryCodes counts the recovery codes issued (int), on
	// [TOTPEnabled].
	DetailRecoveryCodes = "recovery_codes"
	// DetailRecoveryCodesLeft counts the unused recovery codes (int) on
	// [LoginSucceeded] with a recovery code; DetailRemaining is the same
	// number on [RecoveryCodeUsed].
	DetailRecoveryCodesLeft = "recovery_codes_left"
	DetailRemaining         = "remaining"

	// DetailContentType (string) and DetailBytes (int) describe the stored
	// image on [AvatarChanged]; DetailRemoved is true instead when the
	// avatar was removed.
	DetailContentType = "content_type"
	DetailBytes       = "bytes"
	DetailRemoved     = "removed"

	// DetailRepeated counts the identical events an event stands for
	// (int), when more than one: the same denial (outcome [Denied]) or
	// [LoginThrottled] from the same actor, at the same target, from the
	// same IP (and, for a denial, for the same reason) within one minute
	// is written once and counted here, so a loop cannot flood the trail.
	// Absent on an event that happened once.
	DetailRepeated = "repeated"

	// DetailDeleted counts the events deleted (int64), on [AuditPruned].
	DetailDeleted = "deleted"
	// DetailResealed counts the TOTP secrets moved to the current key
	// (int) and DetailKeyID is that key's ID (string), on [SecretsRotated].
	DetailResealed = "resealed"
	DetailKeyID    = "key_id"
	// DetailRemaced counts the passkeys whose MAC was made again under the
	// current key (int), on [SecretsRotated] with DetailKeyID.
	DetailRemaced = "remaced"

	// DetailPasswordless is true on a [LoginSucceeded] or [LoginFailed]
	// of a passwordless passkey login; a passkey answering a login's
	// second step has [DetailMethod] "passkey" without it.
	DetailPasswordless = "passwordless"
	// DetailPasskeyID is usher's ID of a passkey (string) and DetailAAGUID
	// its authenticator model (string, UUID form), on the Passkey*
	// actions and on a login with a passkey ([DetailMethod] "passkey").
	DetailPasskeyID = "passkey_id"
	DetailAAGUID    = "aaguid"
	// DetailSignCount is the signature counter a passkey presented and
	// DetailStoredSignCount the one stored (uint32), on
	// [PasskeyCloneWarning].
	DetailSignCount       = "sign_count"
	DetailStoredSignCount = "stored_sign_count"
	// DetailPasskeysRemoved counts the passkeys removed (int), on
	// [TwoFactorReset].
	DetailPasskeysRemoved = "passkeys_removed"

	// DetailProvider is a sign-on provider's ID and DetailSubject the
	// subject it gives the account, on sign-on events.
	DetailProvider = "provider"
	DetailSubject  = "subject"

	// DetailWrapped counts the legacy password hashes bound to their
	// account at start (int), on [PasswordsWrapped].
	DetailWrapped = "wrapped"
)
