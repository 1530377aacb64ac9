module github.com/usage-metering/sdk-go

go 1.19
