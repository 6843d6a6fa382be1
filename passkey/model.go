package passkey

import (
	"encoding/hex"
	"fmt"
)

// models names the passkey providers whose AAGUIDs are well known, after
// the community list at github.com/passkeydeveloper/passkey-authenticator-aaguids
// (used, as that list asks, only to name passkeys).
var models = map[string]string{
	"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
	"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
	"adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
	"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
	"9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
	"6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
	"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
	"d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
	"531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
	"53414d53-554e-4700-0000-000000000000": "Samsung Pass",
	"50726f74-6f6e-5061-7373-50726f746f6e": "Proton Pass",
	"fdb141b2-5d84-443e-8a35-4698c205a502": "KeePassXC",
}

// FormatAAGUID writes a 16-byte AAGUID in the usual UUID form; anything
// else is written in hex.
func FormatAAGUID(aaguid []byte) string {
	if len(aaguid) != 16 {
		return hex.EncodeToString(aaguid)
	}
	h := hex.EncodeToString(aaguid)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// ModelName names the passkey provider an AAGUID stands for ("iCloud
// Keychain"), or "" when it is not one usher knows, all zero included.
func ModelName(aaguid []byte) string {
	return models[FormatAAGUID(aaguid)]
}
