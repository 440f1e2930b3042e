# kubeadm join's node checks (cmd/kubeadm/app/preflight), the kernel modules the runtime needs
# and the cgroup driver kubelet compares with the runtime's.
param([Parameter(Mandatory)] $Node)

Describe 'Preflight' -Tag 'Preflight' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $checks = $Node.TestPreflight()
    }

    It 'IsPrivilegedUser' { Assert-KubeletNodeCheck $checks IsPrivilegedUser }
    It 'Swap' { Assert-KubeletNodeCheck $checks Swap }
    It 'BridgeNetfilter' { Assert-KubeletNodeCheck $checks BridgeNetfilter }
    It 'BridgeNfCallIptables' { Assert-KubeletNodeCheck $checks BridgeNfCallIptables }
    It 'IPv4Forward' { Assert-KubeletNodeCheck $checks IPv4Forward }
    It 'KubeletPort' { Assert-KubeletNodeCheck $checks KubeletPort }
    It 'RequiredBinaries' { Assert-KubeletNodeCheck $checks RequiredBinaries }
    It 'OptionalBinaries' { Assert-KubeletNodeCheck $checks OptionalBinaries }
    It 'ContainerRuntime' { Assert-KubeletNodeCheck $checks ContainerRuntime }
    It 'KernelModules' { Assert-KubeletNodeCheck $checks KernelModules }
    It 'CgroupDriver' { Assert-KubeletNodeCheck $checks CgroupDriver }
}
