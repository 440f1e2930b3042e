# The container runtime as kubelet needs it: the CRI socket answers, Status reports RuntimeReady
# and NetworkReady, and the runtime's sandbox (pause) image is on the node.
param([Parameter(Mandatory)] $Node)

Describe 'Runtime' -Tag 'Runtime' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $checks = $Node.TestRuntime()
    }

    It 'CriSocketReachable' { Assert-KubeletNodeCheck $checks CriSocketReachable }
    It 'RuntimeReady' { Assert-KubeletNodeCheck $checks RuntimeReady }
    It 'NetworkReady' { Assert-KubeletNodeCheck $checks NetworkReady }
    It 'SandboxImagePresent' { Assert-KubeletNodeCheck $checks SandboxImagePresent }
}
