package user_test

import (
	"errors"
	"fmt"

	"github.com/usher-go/usher/user"
)

func ExampleNormalizeEmail() {
	for _, in := range []string{
		"  Alice.Smith+Work@Example.COM ",
		"Alice <alice@example.com>",
		"alice@example.com\r\nBcc: mallory@example.com",
		"alice@example.com, bob@example.com",
	} {
		email, err := user.NormalizeEmail(in)
		if errors.Is(err, user.ErrInvalidEmail) {
			fmt.Printf("%q: refused\n", in)
			continue
		}
		fmt.Printf("%q: %s\n", in, email)
	}
	// Output:
	// "  Alice.Smith+Work@Example.COM ": alice.smith+work@example.com
	// "Alice <alice@example.com>": refused
	// "alice@example.com\r\nBcc: mallory@example.com": refused
	// "alice@example.com, bob@example.com": refused
}

func ExampleNormalizeName() {
	name, err := user.NormalizeName("  Zoë Ångström \n")
	fmt.Printf("%q %v\n", name, err)
	_, err = user.NormalizeName("Zoë\x1b[2J")
	fmt.Println(errors.Is(err, user.ErrInvalidName))
	// Output:
	// "Zoë Ångström" <nil>
	// true
}

func ExampleQuery_Normalize() {
	q, err := user.Query{Search: " smith "}.Normalize()
	fmt.Printf("%q %s %d %v\n", q.Search, q.Sort, q.Limit, err)
	_, err = user.Query{Limit: 1000}.Normalize()
	fmt.Println(err)
	// Output:
	// "smith" created 50 <nil>
	// user: invalid query: limit must be 1 to 200
}
