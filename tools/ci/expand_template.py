"""template.yaml as CloudFormation deploys it with the parameters' defaults,
for `make checkov`: each Fn::If resolved, as AWS::LanguageExtensions does
before the SAM transform (which needs a literal Auth), then the SAM transform
of the pinned aws-sam-translator (no AWS call; CodeUri stands for the
uploaded code). Prints the expanded template as JSON.
"""
import json, os, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
template = yaml_parse(open(sys.argv[1]).read())
defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}

def holds(value):
    if isinstance(value, dict):
        (function, args), = value.items()
        if function == "Fn::Equals":
            return holds(args[0]) == holds(args[1])
        if function == "Fn::Not":
            return not holds(args[0])
        if function == "Ref":
            return defaults[args]
        if function == "Condition":
            return holds(template["Conditions"][args])
        raise ValueError(f"condition {value}")
    return value

NO_VALUE = {"Ref": "AWS::NoValue"}

def resolve(value):
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        condition, then, otherwise = value["Fn::If"]
        chosen = then if holds(template["Conditions"][condition]) else otherwise
        return NO_VALUE if chosen == NO_VALUE else resolve(chosen)
    if isinstance(value, dict):
        return {k: r for k, r in ((k, resolve(v)) for k, v in value.items()) if r != NO_VALUE}
    if isinstance(value, list):
        return [r for r in map(resolve, value) if r != NO_VALUE]
    return value

template = resolve(template)
template["Transform"] = "AWS::Serverless-2016-10-31"
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://deployment-bucket/code.zip"

class NoManagedPolicies:
    def load(self):
        return {}

json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1)
