using KubeletPS.TestCluster.Server;

// Subcommands: one line each. "serve" (the default) runs the test API server.
var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
return command switch
{
    "serve" => await ServeCommand.RunAsync(rest),
    "pki" => await KubeletPS.TestCluster.Pki.PkiCommand.RunAsync(rest),
    "containerd" => await KubeletPS.TestCluster.Runtime.ContainerdCommand.RunAsync(rest),
    "nspawn" => await KubeletPS.TestCluster.Runtime.NspawnCommand.RunAsync(rest),
    _ => Unknown(command),
};

static int Unknown(string command)
{
    Console.Error.WriteLine($"unknown command \"{command}\"; commands: serve, pki, containerd, nspawn");
    return 2;
}
