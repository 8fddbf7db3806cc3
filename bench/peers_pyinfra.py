"""pyinfra's equivalent of bench/peers-workload.yml (bench/peers.sh runs it).

Same ten operations, same paths, same templates (rendered with the same two
variables), same iptables rule. Host data comes from the inventory that
bench/peers.sh writes (ssh_hostname = the Ansible inventory's ansible_host).
"""
import os

from pyinfra import host
from pyinfra.operations import files, iptables, server

HERE = os.path.dirname(os.path.abspath(__file__))
names = {"inventory_hostname": host.name, "ansible_host": host.data.ssh_hostname}

files.directory(name="work dir", path="/tmp/ferry-peers", mode="755")
server.shell(name="true one", commands=["true"])
server.shell(name="echo one", commands=["echo one"])
server.shell(name="true two", commands=["true"])
server.shell(name="echo two", commands=["echo two"])
server.shell(name="echo host", commands=[f"echo done on {host.name}"])
files.template(name="host conf from a template", src=os.path.join(HERE, "peers-host.conf.j2"),
               dest="/tmp/ferry-peers/host.conf", mode="644", **names)
files.template(name="motd from a template", src=os.path.join(HERE, "peers-motd.j2"),
               dest="/tmp/ferry-peers/motd", mode="644", **names)
files.line(name="setting line", path="/tmp/ferry-peers/settings",
           line=f"bench_host={host.name}", present=True)
iptables.rule(name="accept the bench port from one documentation address",
              chain="INPUT", jump="ACCEPT", protocol="tcp", source="198.51.100.7",
              destination_port=9999, present=True)
