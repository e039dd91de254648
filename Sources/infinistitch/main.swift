import InfiniStitchCLI

await InfiniStitch.runMain()
