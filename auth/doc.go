// Package auth is usher's entry point: the [Manager] and what it returns.
//
// A host builds one Manager with [New] over a [Store] (store/sqlite.Open
// returns one) and calls it from its own handlers:
//
//   - Bootstrap: [Manager.SignupOpen] and [Manager.SignUp] create the first
//     account, in the built-in admin group; afterwards sign-up is closed by
//     the library ([ErrSignupClosed]). It needs the one-time setup token
//     that New makes on a database without users ([Manager.SetupToken]),
//     which the host shows to whoever runs it, or Config.BootstrapToken.
//   - Login: [Manager.Login] checks an email and password, throttled per
//     account and per client IP, and returns a [Session] whose Token the
//     host hands to the client ([Manager.SetSessionCookie]). Every wrong
//     answer is [ErrInvalidCredentials]. A session ends after an hour
//     unused or a day after login; one whose login set Client.Remember
//     ("keep me signed in") after a week unused or 30 days
//     (Config.IdleTimeout and the others). Each keeps the limits it was
//     issued with.
//   - Requests: [Manager.Middleware] (or [Manager.Authenticate]) turns the
//     token into a [Principal], read fresh on every request, so permission
//     changes, disables and deletions apply at once. [Principal.Can] answers
//     permission checks without allocating; [Manager.RequirePermission]
//     guards a route.
//   - Admin: [Manager.ListUsers], [Manager.CreateUser], [Manager.UpdateUser],
//     [Manager.DeleteUser], [Manager.SetDisabled], [Manager.ResetPassword] and
//     the group operations take the acting Principal and check it inside the
//     library: deny by default, no escalation (nobody grants or reaches what
//     they do not hold), nobody changes their own group, the last enabled
//     admin stays.
//   - Self-service: [Manager.UpdateProfile], [Manager.ChangePassword],
//     [Manager.SetAvatar] (a photo straight from a phone: turned upright,
//     cropped square and scaled to [AvatarSize], metadata dropped),
//     [Manager.Sessions], [Manager.RevokeSession]. [Manager.UserAvatar]
//     serves an avatar to its owner or to an actor with users:read.
//   - Two-factor: [Manager.BeginTOTP] and [Manager.ConfirmTOTP] enrol an
//     authenticator app; a login of an enrolled user returns a [Challenge]
//     that [Manager.VerifyTOTP] or [Manager.VerifyRecoveryCode] completes.
//   - Passkeys (with Config.Passkeys set): [Manager.BeginPasskeyRegistration]
//     and [Manager.FinishPasskeyRegistration] add one (see "Passkeys"
//     below); [Manager.BeginPasskeyLogin] and [Manager.FinishPasskeyLogin]
//     log in without an email or password; a passkey also answers a
//     login's [Challenge] ([Manager.BeginPasskeySecondFactor],
//     [Manager.VerifyPasskey]).
//   - Single sign-on (with Config.SSO set): [Manager.BeginSSO] and
//     [Manager.FinishSSO] log in through an OpenID Connect provider that
//     admins manage at runtime ([Manager.CreateProvider]); a signed-in
//     user links one with [Manager.BeginSSOLink] and
//     [Manager.FinishSSOLink]. See "Single sign-on" below.
//   - Re-authentication: an operation that proves the password again or
//     binds a new factor ([Manager.ChangePassword], [Manager.ConfirmTOTP],
//     [Manager.DisableTOTP], [Manager.RegenerateRecoveryCodes],
//     [Manager.FinishPasskeyRegistration], [Manager.DeletePasskey], and
//     [Manager.UpdateProfile] when it changes the email) replaces the
//     actor's session in its transaction and returns the new [Session]
//     (OWASP ASVS 5.0 V7.2.4): the host sets its Token as the new cookie
//     ([Manager.SetSessionCookie]), because the old token, and every
//     Principal made from it, stops working. Of two such operations racing
//     on one session, one replaces it and the other fails with
//     [ErrUnauthenticated].
//   - Audit: every change and every login attempt is recorded in the same
//     transaction as the change ([Manager.AuditLog] reads the trail,
//     [Manager.LoginActivity] counts the logins of each day,
//     [Manager.ExportAuditLog] writes it as JSON Lines or CSV), and chained
//     by keyed hashes that [Manager.VerifyAuditLog] checks.
//   - Access review: [Manager.AccessReview] reports who has access (groups,
//     permissions, members, each account's factors and last login) and what
//     deserves a look (a second factor missing where one is due, accounts
//     never used, idle or disabled); [AccessReview.WriteCSV] writes it for
//     a spreadsheet; [Manager.MarkAccessReviewed] records a review in the
//     audit trail. They need access:review.
//
// # Errors
//
// Every method returns errors matched with [errors.Is]: this package's
// sentinels ([ErrForbidden], [ErrThrottled], ...) and those of packages
// user, group, totp and audit ([user.ErrNotFound],
// [group.ErrUnknownPermission], ...). The text after a sentinel's colon is
// for logs and may change. Errors never carry pages: the host renders its
// own (Config.HTTPError for the middleware). Three kinds matter to a page:
//
//   - Bad input: a [*FieldError] names the field ([FieldEmail],
//     [FieldPassword], [FieldPermissions], ...) and wraps the rule's
//     sentinel ([user.ErrInvalidEmail], [ErrPasswordTooShort], ...), so
//     errors.As places the message next to the right input and errors.Is
//     picks the words. The limits behind the rules are exported
//     ([user.MaxEmailLength], [group.MaxNameLength], [MaxPasswordBytes],
//     [MaxAvatarBytes], [MaxAvatarPixels], [MaxAvatarArea], ...) for a
//     form's hints.
//   - Refusals: every one wraps [ErrForbidden] ([ErrLastAdmin],
//     [ErrEnrollmentRequired], [ErrPasswordChangeRequired],
//     [group.ErrBuiltin] and the rest), and is
//     recorded in the audit trail. errors.As finds a [*DeniedError]: its
//     Reason ([DenyPermission], [DenyGrantsMore], [DenyOwnGroup], ...),
//     the Permission with its catalog Label, and [DeniedError.Message], a
//     sentence to show the person refused.
//   - Wrong answers: a wrong password or second factor, at login or when
//     re-authenticating, is [ErrInvalidCredentials] and never a
//     FieldError, so nobody learns which answer was wrong.
//     [*ThrottledError] carries RetryAfter.
//
// # Passkeys
//
// A passkey (a WebAuthn credential, checked by
// github.com/go-webauthn/webauthn) is a key pair the user's authenticator
// keeps for the relying party set in Config.Passkeys; [New] refuses an
// origin outside the RP ID. Each ceremony has two calls. Begin returns a
// [PasskeyCeremony]: Options for the browser's navigator.credentials
// call, and an ID, a bearer key to a record kept in the store (one use,
// [passkey.CeremonyTimeout]), never in a cookie or the page. Finish takes
// that ID and the browser's answer as JSON bytes
// ([MaxPasskeyResponseBytes] at most).
//
//   - Registration needs profile:manage_passkeys and, like TOTP
//     enrollment, the password or a fresh session. The passkey must be
//     discoverable; the user handle it stores is 64 random bytes.
//   - A passwordless login requires user verification (a PIN or
//     biometric on the authenticator), so it is multi-factor by itself
//     (NIST SP 800-63B 5.1.8): it satisfies a group's RequireTwoFactor and
//     opens a session with no second step. PasskeyConfig.DisablePasswordless
//     turns it off in the Manager, keeping passkeys as a second factor.
//   - A user with a passkey owes a second factor after the password, like
//     one with TOTP: [Challenge.Methods] lists [MethodPasskey], and only
//     that user's passkeys are accepted, under the challenge's limit of
//     wrong answers.
//   - Signature counters are saved when they grow; one that does not grow
//     (but for synced passkeys, which always report 0) refuses the login
//     and records [audit.PasskeyCloneWarning].
//
// Login failures are [ErrInvalidCredentials] whatever went wrong (the
// audit trail keeps the reason) and spend the client IP's budget, as
// password attempts do. Passkeys stored while Config.Passkeys is later
// left empty count for nothing, not even as a second factor.
//
// # Single sign-on
//
// A provider's login is checked end to end by usher: the callback's state
// against the server-side flow (single use, [oidc.FlowTimeout]), the code
// exchanged with the PKCE S256 verifier, the ID token verified by
// github.com/coreos/go-oidc (signature, exact issuer, audience, expiry)
// and its nonce compared. The account is found by the provider's issuer
// and subject, never by email. A first login links an existing account
// only when the provider links by email and the token says the email is
// verified, and creates one only when the provider provisions and the
// verified email's domain is allowed; otherwise [NotLinkedError] says
// why. Only a holder of "*" may let a provider link by email or vouch for
// MFA, since either lets it speak for any account; one issuer has one
// provider. Group mapping applies at every login, within the same
// no-escalation and last-admin rules as an admin's edit. The local second
// factor is asked when the provider requires it, or when the user's group
// requires two-factor and the provider's login is not multi-factor (the
// admin's word, or amr "mfa"); a session opened by a multi-factor login
// says so ([Session.MultiFactor]). Config.DisablePasswordLogin refuses
// passwords while a provider is enabled; [NewWithOperator] tools keep
// working ([Manager.SetProviderEnabled]).
//
// # Secrets
//
// Passwords are bcrypt over an HMAC-SHA-256 pre-hash keyed from
// Config.SecretKey (see [MaxPasswordBytes]) of the user ID and the
// password, so a hash copied onto another account does not verify. Hashes
// of the first format ("$usher1$", bound to no account) and plain bcrypt
// hashes imported from another system are bound to their account by [New],
// which wraps every one it finds in an HMAC of the user ID and the hash
// ("$usher2w$"), and are rewritten in the current format ("$usher2$") at
// the next login. An unwrapped one found later can only have been written
// behind usher's back and does not verify: a host importing hashes from
// another system uses [Manager.ImportPasswordHash]. Session
// and challenge tokens are 32 random bytes and only their HMAC-SHA-256,
// under a key derived from Config.SecretKey, is stored: someone who can
// write the database but lacks the key cannot store a session of their own
// making. Sessions made under a key now in Config.PreviousSecretKeys keep
// working (they are not re-hashed) until that key is dropped. Sessions
// stored by versions of usher that hashed with plain SHA-256 are retired:
// the stores' migration deletes them, and users log in again once. TOTP
// secrets are sealed with AES-256-GCM under a key derived from
// Config.SecretKey, bound to their user. A passkey holds no secret, but its
// row says whose public key opens which account, so each carries an
// HMAC-SHA-256, under a key derived from Config.SecretKey for that alone,
// of its ID, its user's ID, its credential ID, its public key and its
// backup-eligible flag ([passkey.Credential] KeyID and MAC): a row written
// without the key (a public key of the writer's own under another user's
// ID, a genuine passkey moved to another user or given another public
// key) does not verify, and a passkey that does not verify counts for
// nothing: it does not log in, answers no challenge, is no second factor,
// and is logged (its IDs, nothing secret) when met. [Manager.RotateSecrets]
// moves TOTP secrets and passkeys to a new key at once. No secret reaches
// the audit trail or the logs.
//
// The database remembers which key it was made with: the first [New] on it
// stores a [KeyCheck] (an HMAC of a fixed text and the key ID, from which
// the key cannot be recovered), and every later New refuses a key that
// matches neither it nor a previous key with [ErrWrongSecretKey], rather
// than start and fail every login as a wrong password. A database made
// before key checks existed gets one at its first New, unless its password
// hashes or TOTP secrets name a key the Manager does not hold, which is
// refused the same way. When a previous key matches, the check moves to the
// current key.
//
// # Throttling
//
// Login throttling slows the guesser, never the owner (OWASP ASVS 5.0
// V6.3.1, NIST SP 800-63B 5.2.2). The counters live in the store, so every
// instance on one database shares them. An attempt on an account spends:
//
//   - the client IP's budget for the minute ([ThrottleConfig.PerIPPerMinute];
//     an IPv6 client's /64 counts as one IP) and, for IPv6, its /48's
//     ([ThrottleConfig.PerIPv6SitePerMinute]), whatever account it names;
//   - with a device token that a successful login gave this client for
//     this account ([LoginResult.DeviceToken], passed back in
//     [Client.DeviceToken]; OWASP's "device cookies"), that device's own
//     back-off: [ThrottleConfig.FreeFailures] free failures, then a doubling
//     wait. Nobody else's failures touch it;
//   - without one, the back-off of the account on the client's network
//     (IPv4 address, IPv6 /64), and then the account's budget for the UTC
//     day shared by every network ([ThrottleConfig.AccountFailuresPerDay],
//     100 by default, NIST SP 800-63B's bound).
//
// The trade-off: once a day's budget is spent, which an attacker spread
// over many networks can do, the account accepts no password without a
// trusted device until the day ends or an admin calls
// [Manager.UnlockLogin]; the owner's own devices keep working throughout.
// Without the budget, a botnet would get FreeFailures guesses on every
// account from each of its addresses. A host that wants the owner to
// recover alone from a new device offers a recovery path of its own (an
// emailed link, after which it calls UnlockLogin). [Manager.RevokeDevices]
// ends the trust of every device of a user, for a stolen laptop; nothing is
// stored per device. A password reset or change and a second-factor reset
// end it too, so a device cookie stolen before no longer counts after.
//
// # Principals
//
// A [Principal] is opaque. Its accessors ([Principal.User],
// [Principal.Group], [Principal.Session]) return copies, and every check
// inside usher reads what the Manager recorded when it authenticated the
// request, so no host code can change who acts. The host sets only the
// request it acts in ([Principal.SetClient]). Operations that change
// something read the actor again inside their transaction.
//
// # Command-line tools
//
// Recovery tools run by whoever holds the database and the key (a locked-out
// last admin, a lost second factor, a key rotation) build their Manager with
// [NewWithOperator], which also returns an all-permission operator
// principal. A Manager made by [New] has no operator; see NewWithOperator
// for why a process serving requests must never make one.
package auth
