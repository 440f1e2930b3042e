#requires -Version 7.4
<#
.SYNOPSIS
    Writes the module's MAML help from module/help/<Cmdlet>.md and the cmdlets' own metadata.
.DESCRIPTION
    Each exported cmdlet must have a markdown page with the sections SYNOPSIS, DESCRIPTION,
    EXAMPLES (at least one "### Example" with a code block) and PARAMETERS (one "### -Name"
    per parameter the cmdlet declares, common parameters aside). Syntax, parameter types,
    positions, pipeline input and aliases come from the built cmdlets, so they cannot drift.
    A missing page, section or parameter fails the build.
#>
param(
    [Parameter(Mandatory)][string] $ModulePath,
    [Parameter(Mandatory)][string] $MarkdownPath,
    [Parameter(Mandatory)][string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$module = Import-Module $ModulePath -PassThru -Force
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters |
    Where-Object { $_ -notin 'WhatIf', 'Confirm' }

function Split-MarkdownSection {
    # Returns an ordered map: heading text -> body lines, for headings of the given level.
    param([string[]] $Lines, [int] $Level)
    $prefix = ('#' * $Level) + ' '
    $sections = [ordered]@{}
    $current = $null
    $inCode = $false
    foreach ($line in $Lines) {
        if ($line -match '^```') { $inCode = -not $inCode }
        if (-not $inCode -and $line.StartsWith($prefix)) {
            $current = $line.Substring($prefix.Length).Trim()
            $sections[$current] = [System.Collections.Generic.List[string]]::new()
        }
        elseif ($null -ne $current) { $sections[$current].Add($line) }
    }
    $sections
}

function Get-Paragraph {
    # Blank-line separated paragraphs, with soft line breaks joined; list items kept on their own.
    param([string[]] $Lines)
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $buffer = [System.Collections.Generic.List[string]]::new()
    foreach ($line in $Lines) {
        $trimmed = $line.Trim()
        if ($trimmed -eq '') {
            if ($buffer.Count) { $paragraphs.Add($buffer -join ' '); $buffer.Clear() }
        }
        elseif ($trimmed -match '^[-*] ' -and $buffer.Count) { $paragraphs.Add($buffer -join ' '); $buffer.Clear(); $buffer.Add($trimmed) }
        else { $buffer.Add($trimmed) }
    }
    if ($buffer.Count) { $paragraphs.Add($buffer -join ' ') }
    , $paragraphs.ToArray()
}

$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$null = New-Item -ItemType Directory -Force (Split-Path $OutputPath)
$writer = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmd = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Write-Para([string[]] $Paragraphs) {
    foreach ($p in $Paragraphs) { $writer.WriteElementString('para', $maml, $p) }
}

function Write-Description([string[]] $Paragraphs) {
    $writer.WriteStartElement('description', $maml); Write-Para $Paragraphs; $writer.WriteEndElement()
}

function Write-Parameter($Command, $Parameter, $SetParameter, [string[]] $Description, [bool] $InSyntax) {
    $type = $Parameter.ParameterType
    $isSwitch = $type -eq [System.Management.Automation.SwitchParameter]
    $pipeline = @()
    if ($SetParameter.ValueFromPipeline) { $pipeline += 'ByValue' }
    if ($SetParameter.ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
    $position = if ($SetParameter.Position -ge 0) { [string]$SetParameter.Position } else { 'named' }
    $globbing = $Parameter.Name -eq 'Path'
    $writer.WriteStartElement('command', 'parameter', $cmd)
    $writer.WriteAttributeString('required', ([string]$SetParameter.IsMandatory).ToLowerInvariant())
    $writer.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
    $writer.WriteAttributeString('globbing', ([string]$globbing).ToLowerInvariant())
    $writer.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
    $writer.WriteAttributeString('position', $position)
    $writer.WriteAttributeString('aliases', $(if ($Parameter.Aliases.Count) { $Parameter.Aliases -join ', ' } else { 'none' }))
    $writer.WriteElementString('name', $maml, $Parameter.Name)
    Write-Description $Description
    if (-not $isSwitch) {
        $writer.WriteStartElement('command', 'parameterValue', $cmd)
        $writer.WriteAttributeString('required', 'true')
        $writer.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
        $writer.WriteString($type.Name)
        $writer.WriteEndElement()
    }
    $writer.WriteStartElement('dev', 'type', $dev)
    $writer.WriteElementString('name', $maml, $type.FullName)
    $writer.WriteEndElement()
    if (-not $InSyntax) {
        $writer.WriteElementString('defaultValue', $dev, $(if ($isSwitch) { 'False' } else { 'None' }))
    }
    $writer.WriteEndElement()
}

$problems = [System.Collections.Generic.List[string]]::new()
$writer.WriteStartDocument()
$writer.WriteStartElement('helpItems', 'http://msh')
$writer.WriteAttributeString('schema', 'maml')

foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $file = Join-Path $MarkdownPath "$($command.Name).md"
    if (-not (Test-Path $file)) { $problems.Add("$($command.Name): no help page $file"); continue }
    $top = Split-MarkdownSection (Get-Content $file) 2
    foreach ($required in 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS') {
        if (-not $top.Contains($required)) { $problems.Add("$($command.Name): section '## $required' missing in $file") }
    }
    if ($problems.Count) { continue }
    $parameterDocs = Split-MarkdownSection $top['PARAMETERS'] 3
    $examples = Split-MarkdownSection $top['EXAMPLES'] 3
    if ($examples.Count -eq 0) { $problems.Add("$($command.Name): no '### Example' in $file") }
    $ownParameters = $command.Parameters.Values | Where-Object { $_.Name -notin $common }
    foreach ($p in $ownParameters) {
        if (-not $parameterDocs.Contains("-$($p.Name)")) { $problems.Add("$($command.Name): parameter -$($p.Name) is not described in $file") }
    }

    $writer.WriteStartElement('command', 'command', $cmd)
    $writer.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $writer.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $writer.WriteStartElement('command', 'details', $cmd)
    $writer.WriteElementString('name', $cmd, $command.Name)
    $writer.WriteElementString('verb', $cmd, $command.Verb)
    $writer.WriteElementString('noun', $cmd, $command.Noun)
    Write-Description (Get-Paragraph $top['SYNOPSIS'])
    $writer.WriteEndElement()
    Write-Description (Get-Paragraph $top['DESCRIPTION'])

    $writer.WriteStartElement('command', 'syntax', $cmd)
    foreach ($set in $command.ParameterSets) {
        $writer.WriteStartElement('command', 'syntaxItem', $cmd)
        $writer.WriteElementString('name', $maml, $command.Name)
        foreach ($sp in $set.Parameters | Where-Object { $_.Name -notin $common }) {
            $doc = if ($parameterDocs.Contains("-$($sp.Name)")) { Get-Paragraph $parameterDocs["-$($sp.Name)"] } else { @() }
            Write-Parameter $command $command.Parameters[$sp.Name] $sp $doc $true
        }
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'parameters', $cmd)
    foreach ($p in $ownParameters | Sort-Object Name) {
        $sp = $command.ParameterSets.Parameters | Where-Object Name -eq $p.Name | Select-Object -First 1
        Write-Parameter $command $p $sp (Get-Paragraph $parameterDocs["-$($p.Name)"]) $false
    }
    $writer.WriteEndElement()

    foreach ($pair in @(@('INPUTS', 'inputTypes', 'inputType'), @('OUTPUTS', 'returnValues', 'returnValue'))) {
        if (-not $top.Contains($pair[0])) { continue }
        $writer.WriteStartElement('command', $pair[1], $cmd)
        $types = Split-MarkdownSection $top[$pair[0]] 3
        foreach ($typeName in $types.Keys) {
            $writer.WriteStartElement('command', $pair[2], $cmd)
            $writer.WriteStartElement('dev', 'type', $dev); $writer.WriteElementString('name', $maml, $typeName); $writer.WriteEndElement()
            Write-Description (Get-Paragraph $types[$typeName])
            $writer.WriteEndElement()
        }
        $writer.WriteEndElement()
    }

    if ($top.Contains('NOTES')) {
        $writer.WriteStartElement('alertSet', $maml)
        $writer.WriteStartElement('alert', $maml); Write-Para (Get-Paragraph $top['NOTES']); $writer.WriteEndElement()
        $writer.WriteEndElement()
    }

    $writer.WriteStartElement('command', 'examples', $cmd)
    foreach ($title in $examples.Keys) {
        $lines = $examples[$title]
        $code = [System.Collections.Generic.List[string]]::new()
        $remarks = [System.Collections.Generic.List[string]]::new()
        $inCode = $false; $codeDone = $false
        foreach ($line in $lines) {
            if ($line -match '^```') { if ($inCode) { $codeDone = $true }; $inCode = -not $inCode; continue }
            if ($inCode) { $code.Add($line) } elseif ($codeDone) { $remarks.Add($line) }
        }
        if ($code.Count -eq 0) { $problems.Add("$($command.Name): '$title' has no code block") }
        $writer.WriteStartElement('command', 'example', $cmd)
        $writer.WriteElementString('title', $maml, "-------------------------- $title --------------------------")
        $writer.WriteElementString('code', $dev, ($code -join "`n"))
        $writer.WriteStartElement('remarks', $dev); Write-Para (Get-Paragraph $remarks); $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteEndElement()
}

$writer.WriteEndElement()
$writer.WriteEndDocument()
$writer.Dispose()

if ($problems.Count) {
    $problems | ForEach-Object { Write-Error $_ -ErrorAction Continue }
    throw "Help is incomplete: $($problems.Count) problem(s)."
}
