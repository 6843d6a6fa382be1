package postgres

// The helpers of helpers_internal_test.go, for the tests in package
// postgres_test.
var (
	TestDSN             = testDSN
	NewTestDB           = newTestDB
	NewBareTestDB       = newBareTestDB
	OpenSchema          = openSchema
	OpenBareSchema      = openBareSchema
	NewSchemaName       = newSchemaName
	DropSchemaAtCleanup = dropSchemaAtCleanup
)
