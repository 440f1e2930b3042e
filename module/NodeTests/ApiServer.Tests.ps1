# The API server as Test-KubeletApiConnection checks it: trusted, anonymous requests refused, the
# node's credentials accepted and authorized (one It per check it returns).
param([Parameter(Mandatory)] $Node)

BeforeDiscovery {
    $apiChecks = @()
    $apiProblem = $null
    if (Test-Path -LiteralPath $Node.KubeconfigPath -PathType Leaf) {
        $arguments = @{ KubeconfigPath = $Node.KubeconfigPath; Detailed = $true; ErrorAction = 'Stop' }
        if ($Node.NodeName) { $arguments.NodeName = $Node.NodeName }
        try { $apiChecks = @(Test-KubeletApiConnection @arguments | ForEach-Object { @{ Name = $_.Name; Passed = $_.Passed; Message = $_.Message } }) }
        catch { $apiProblem = $_.Exception.Message }
    }
    else { $apiProblem = '' }
}

Describe 'ApiServer' -Tag 'ApiServer' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
    }

    # A name template, so that the report names it ApiServer.Kubeconfig like the others (not "Kubeconfig(null)").
    It '<Check>' -ForEach @(@{ Check = 'Kubeconfig'; Problem = $apiProblem }) {
        if ($null -eq $Problem) { return }
        if ($Problem -eq '') { Set-ItResult -Skipped -Because "there is no kubeconfig at $($Node.KubeconfigPath) yet: the node has not joined a cluster"; return }
        throw "$Problem Fix $($Node.KubeconfigPath) or rejoin the node."
    }

    It '<Name>' -ForEach $apiChecks {
        if ($Passed) { return }
        $fix = switch ($Name) {
            'ServerTrusted' { "Check the server address and the cluster CA in $($Node.KubeconfigPath), and that the API server is up" }
            'AnonymousRefused' { 'The API server serves anonymous requests: set --anonymous-auth=false or remove the RBAC bindings granting system:anonymous' }
            'CredentialsAccepted' { "The node's client certificate is refused: renew it (Request-KubeletCertificate -Force) or rejoin the node" }
            'NodeAuthorized' { 'The node may not read its own Node: check the Node authorizer (--authorization-mode=Node,RBAC) and the certificate''s name system:node:NAME' }
            default { 'see Test-KubeletApiConnection -Detailed' }
        }
        throw "$Message $fix."
    }
}
