// Command cdk-app synthesizes the kapso-bridge stack. Run it through `npx cdk`
// from the repository root (see cdk.json and docs/deploy.md).
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	jsii.Close()
}

func run() error {
	app := awscdk.NewApp(nil)
	settings, err := LoadSettings(contextLookup(func(key string) any {
		return app.Node().TryGetContext(jsii.String(key))
	}), os.Getenv)
	if err != nil {
		return err
	}
	if err := checkAssets(settings.AssetDir); err != nil {
		return err
	}
	NewKapsoBridgeStack(app, settings.StackName, &KapsoBridgeStackProps{
		StackProps: awscdk.StackProps{
			Env:         environment(os.Getenv),
			Description: jsii.String("kapso-bridge: connects tenants' WhatsApp numbers through Kapso"),
		},
		Settings: settings,
	})
	// cdk-nag's findings become error and warning annotations, which fail
	// `cdk synth` (warnings with --strict).
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

// environment pins the stack to the account and region the CDK CLI resolved,
// or leaves it environment-agnostic when there are none (synth without
// credentials).
func environment(getenv func(string) string) *awscdk.Environment {
	account, region := getenv("CDK_DEFAULT_ACCOUNT"), getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}

// checkAssets fails early, with the fix, when the function binaries are missing.
func checkAssets(dir string) error {
	var missing []error
	for _, f := range functions {
		path := filepath.Join(dir, string(f.Name), "bootstrap")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, fmt.Errorf("missing %s", path))
		} else if err != nil {
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("function binaries not built (run `make build`, or set assetDir):\n%w", errors.Join(missing...))
	}
	return nil
}
